"""docs/pages.md's example prints the receipt's QR code from a lookup_url with segno."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pages.md"


def test_the_documented_qr_example_writes_an_svg_of_the_lookup_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert example is not None
    url = "http://127.0.0.1:8000/#code=000.00.31.H56-260213-0001&secret=7KQ4M2"
    monkeypatch.chdir(tmp_path)
    exec(example.group(1), {"answer": {"lookup_url": url}})
    svg = (tmp_path / "receipt-qr.svg").read_text()
    assert "<svg" in svg and "Tra cứu hồ sơ" in svg
    assert 'href="http' not in svg  # nothing to fetch when it is printed
