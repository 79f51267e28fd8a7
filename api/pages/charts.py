"""Charts as inline SVG drawn on the server: no chart library, readable on a phone and on paper.

Each chart is a figure labelled for screen readers; the same figures are in the table beside
it (and in its CSV). Text stays HTML, so it keeps its size however wide the chart is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

Bar = tuple[str, float | None, str]
"""A label, a value (None: nothing to show) and the value as people read it."""


def _share(value: float | None, maximum: float) -> float:
    if value is None or maximum <= 0:
        return 0.0
    return max(0.0, min(value / maximum, 1.0))


def bar_chart(title: str, bars: Sequence[Bar], maximum: float = 1.0) -> Markup:
    """Horizontal bars, one row each, a value of `maximum` filling the row."""
    rows = "".join(
        "<li>"
        f'<span class="bar-label">{escape(label)}</span>'
        '<svg class="bar-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
        '<rect class="bar-bg" width="100" height="10"/>'
        f'<rect class="bar" width="{100 * _share(value, maximum):.2f}" height="10"/></svg>'
        f'<span class="bar-value">{escape(text)}</span>'
        "</li>"
        for label, value, text in bars
    )
    return Markup(  # noqa: S704 (every text in it went through escape())
        f'<figure class="bars"><figcaption>{escape(title)}</figcaption><ol>{rows}</ol></figure>'
    )


def column_chart(title: str, columns: Sequence[Bar], maximum: float = 1.0) -> Markup:
    """Vertical columns for a trend, oldest first."""
    count = max(len(columns), 1)
    width = 100 / count
    rects = "".join(
        f'<rect class="bar" x="{index * width + width * 0.15:.2f}" '
        f'y="{60 - 58 * _share(value, maximum):.2f}" width="{width * 0.7:.2f}" '
        f'height="{58 * _share(value, maximum):.2f}"/>'
        for index, (_label, value, _text) in enumerate(columns)
    )
    labels = "".join(
        f'<li><span class="col-value">{escape(text)}</span>'
        f'<span class="col-label">{escape(label)}</span></li>'
        for label, _value, text in columns
    )
    return Markup(  # noqa: S704 (every text in it went through escape())
        f'<figure class="trend"><figcaption>{escape(title)}</figcaption>'
        '<svg class="columns" viewBox="0 0 100 60" preserveAspectRatio="none" aria-hidden="true">'
        f'<line class="axis" x1="0" y1="60" x2="100" y2="60"/>{rects}</svg>'
        f'<ol class="col-labels">{labels}</ol></figure>'
    )
