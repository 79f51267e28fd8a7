"""Messages, dates and numbers for people: Vietnamese first, English on request (Babel).

The language is the `lang` cookie's (set by the switch on every page), else Vietnamese. Dates
are dd/mm/yyyy and times 24-hour, always in Asia/Ho_Chi_Minh (+07:00), whatever the language.
Message ids are English; locale/vi/LC_MESSAGES/messages.po translates them (pybabel extract -F
api/pages/babel.cfg keeps it in step with the templates).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

from domain.calendar import LOCAL_TZ
from domain.status import Status
from domain.timeliness import Timeliness

LANGUAGES: Final = ("vi", "en")
DEFAULT_LANGUAGE: Final = "vi"
LANGUAGE_COOKIE: Final = "lang"
_LOCALE_DIR: Final = Path(__file__).parent / "locale"

TIMELINESS_WORDS: Final = {
    Timeliness.IN_TIME: ("Còn hạn", "In time"),
    Timeliness.DUE_SOON: ("Sắp đến hạn", "Due soon"),
    Timeliness.OVERDUE: ("Quá hạn", "Overdue"),
    Timeliness.EARLY: ("Trước hạn", "Early"),
    Timeliness.ON_TIME: ("Đúng hạn", "On time"),
    Timeliness.LATE: ("Trễ hạn", "Late"),
}
"""The words the public reads for each class (a finished late dossier is "trễ hạn")."""


@cache
def translations(language: str) -> NullTranslations:
    if language == "en":
        return NullTranslations()
    with (_LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def chosen_language(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Words:
    """What templates call to say things in the reader's language."""

    language: str

    @property
    def gettext(self) -> Callable[[str], str]:
        return translations(self.language).gettext

    def status(self, status: Status | None) -> str:
        if status is None:
            return "—"
        return status.name_vi if self.language == "vi" else status.name_en

    def timeliness(self, timeliness: Timeliness | str | None) -> str:
        if timeliness is None:
            return "—"
        vi, en = TIMELINESS_WORDS[Timeliness(timeliness)]
        return vi if self.language == "vi" else en

    def date(self, value: dt.date | dt.datetime | None) -> str:
        """dd/mm/yyyy; an instant by its local date in +07:00."""
        if value is None:
            return "—"
        if isinstance(value, dt.datetime):
            value = value.astimezone(LOCAL_TZ).date()
        return format_date(value, "dd/MM/yyyy", locale=self.language)

    def datetime(self, value: dt.datetime | None) -> str:
        """dd/mm/yyyy HH:MM, 24-hour, in +07:00."""
        if value is None:
            return "—"
        return format_datetime(value, "dd/MM/yyyy HH:mm", tzinfo=LOCAL_TZ, locale=self.language)

    def month(self, value: dt.date) -> str:
        return format_date(value, "MM/yyyy", locale=self.language)

    def number(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        return format_decimal(round(value, digits), locale=self.language)

    def percent(self, value: float | None) -> str:
        if value is None:
            return "—"
        return format_percent(value, "#,##0.0%", locale=self.language)
