"""Finding 1: the days off decreed after the `holidays` release, with their sources.

The New Year 2026 swap: letter 12729/VPCP-KGVX of the Government Office, 25/12/2025, gave civil
servants Friday 2/1/2026 off and made Saturday 10/1/2026 a working day in exchange. `holidays`
0.109 does not know it; the ledger ships it, and an operator's file still wins over it.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from application.catalogue import (
    DataFileError,
    load_calendar,
    load_decreed_days,
    parse_decreed_days,
)
from domain.calendar import HOLIDAYS_SOURCE, CalendarDay, WorkCalendar
from tests.unit.stories import CALENDAR, FIVE_WORKING_DAYS, at, received

LETTER_12729 = "Công văn 12729/VPCP-KGVX ngày 25/12/2025 của Văn phòng Chính phủ"


def test_every_shipped_decreed_day_is_pinned_with_its_source() -> None:
    """Each entry of decreed_calendar.toml, exactly: a change to the file is a change here."""
    assert load_decreed_days() == [
        CalendarDay(
            date(2026, 1, 2),
            False,
            "Nghỉ Tết Dương lịch 2026 (hoán đổi với thứ Bảy 10/01/2026)",
            LETTER_12729,
        ),
        CalendarDay(date(2026, 1, 10), True, "Làm việc bù cho thứ Sáu 02/01/2026", LETTER_12729),
    ]


def test_the_shipped_days_are_not_already_in_holidays() -> None:
    """The data file holds what `holidays` lacks: without it, 2/1/2026 (a Friday) would be a
    working day and 10/1/2026 (a Saturday) a day off. If a later `holidays` knows them, the
    entries can go."""
    bare = WorkCalendar()
    assert bare.is_working_day(date(2026, 1, 2))
    assert not bare.is_working_day(date(2026, 1, 10))


def test_friday_2_january_2026_is_off_and_saturday_10_january_is_worked() -> None:
    """Letter 12729/VPCP-KGVX: Thursday 1/1 is New Year's Day (Labour Code art. 112), Friday
    2/1 is swapped off, the weekend 3-4/1 follows, and Saturday 10/1 is worked instead."""
    assert not CALENDAR.is_working_day(date(2026, 1, 1))
    assert not CALENDAR.is_working_day(date(2026, 1, 2))
    assert CALENDAR.is_working_day(date(2026, 1, 5))
    assert CALENDAR.is_working_day(date(2026, 1, 10))
    assert not CALENDAR.is_working_day(date(2026, 1, 11))


def test_a_dossier_received_on_new_years_eve_is_due_on_6_january() -> None:
    """Received Wed 31/12/2025 11:00 with 2 working days (16 h): 31/12 gives 0.5 h
    (11:00-11:30) and 3.5 h (13:30-17:00) = 4 h; 1/1 (New Year) and 2/1 (the swap) are off,
    3-4/1 the weekend; Mon 5/1 gives 8 h (12 h); the last 4 h are Tue 6/1 07:00-11:00. Due
    06/01 11:00, not 05/01 11:00 as with `holidays` alone (which works on 2/1)."""
    start = at(2025, 12, 31, 11)
    assert CALENDAR.add_working_days(start, 2) == at(2026, 1, 6, 11)
    assert WorkCalendar().add_working_days(start, 2) == at(2026, 1, 5, 11)


def test_a_five_day_dossier_received_on_new_years_eve_counts_the_swapped_saturday() -> None:
    """Received Wed 31/12/2025 11:00, 5 working days (40 h): 31/12 gives 4 h, Mon 5/1 to Thu
    8/1 4 x 8 h (36 h by Thu 17:00), the last 4 h Fri 9/1 07:00-11:00. With 6 working days
    (48 h) Fri 9/1 gives 8 h (44 h) and the swapped Saturday 10/1 the last 4 h: due Sat 10/1
    11:00, a working day by letter 12729/VPCP-KGVX."""
    dossier = received(FIVE_WORKING_DAYS, at(2025, 12, 31, 11)).dossier
    assert dossier is not None
    assert dossier.due_at == at(2026, 1, 9, 11)
    assert CALENDAR.add_working_days(at(2025, 12, 31, 11), 6) == at(2026, 1, 10, 11)


def test_the_operators_file_wins_over_the_decreed_days(tmp_path: Path) -> None:
    """A province that keeps 2/1/2026 open and does not work 10/1/2026 says so in its file:
    layer 3 (the operator) decides over layer 2 (the decreed days)."""
    path = tmp_path / "calendar.toml"
    path.write_text('days_off = ["2026-01-10"]\nworking_days = ["2026-01-02"]\n')
    calendar = load_calendar(path)

    assert calendar.is_working_day(date(2026, 1, 2))
    assert not calendar.is_working_day(date(2026, 1, 10))
    noted = {entry.day: entry for entry in calendar.days_of_note(2026)}
    assert noted[date(2026, 1, 2)].source == "operator's file calendar.toml"
    assert noted[date(2026, 1, 10)].working is False


def test_the_year_lists_days_off_and_extra_working_days_with_their_sources() -> None:
    """2026: New Year's Day from `holidays`, the swap from the letter, Tết (16-20/2) from
    `holidays`, and the Saturday 22/8 that `holidays` knows as worked for Monday 31/8."""
    noted = {entry.day: entry for entry in CALENDAR.days_of_note(2026)}

    assert noted[date(2026, 1, 1)] == CalendarDay(
        date(2026, 1, 1), False, "Tết Dương lịch", HOLIDAYS_SOURCE
    )
    assert noted[date(2026, 1, 2)].source == LETTER_12729
    assert noted[date(2026, 1, 10)].working and noted[date(2026, 1, 10)].source == LETTER_12729
    tet = [date(2026, 2, 16) + timedelta(days=n) for n in range(5)]
    assert all(not noted[day].working for day in tet)
    assert noted[date(2026, 8, 22)].working and noted[date(2026, 8, 22)].source == HOLIDAYS_SOURCE
    assert list(noted) == sorted(noted)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[day]]\ndate = 2026-01-02\nkind = "holiday"\nname = "x"\nsource = "y"\n', "kind"),
        ('[[day]]\ndate = "2026-01-02"\nkind = "day_off"\nname = "x"\nsource = "y"\n', "date"),
        ('[[day]]\ndate = 2026-01-02\nkind = "day_off"\nname = "x"\n', "keys"),
        ('[[day]]\ndate = 2026-01-02\nkind = "day_off"\nname = "x"\nsource = " "\n', "source"),
    ],
)
def test_a_decreed_day_without_a_kind_date_or_source_is_refused(text: str, says: str) -> None:
    with pytest.raises(DataFileError, match=says):
        parse_decreed_days("decreed.toml", text)
