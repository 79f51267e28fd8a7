"""The work calendar: Vietnam's working days and hours, and due dates counted on them.

Holiday facts are the pinned `holidays` package's (0.109); the tests that depend on one ask the
package first, so a different version fails on the fact, not on the arithmetic.
"""

from datetime import UTC, date, datetime, time, timedelta, timezone

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import (
    DEFAULT_WORKING_PERIODS,
    LOCAL_TZ,
    CalendarOverrideError,
    WorkCalendar,
)
from domain.procedures import ProcessingTime, TimeUnit

CALENDAR = WorkCalendar()
HOUR = timedelta(hours=1)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)


def vn_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


# --- hypothesis properties -------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2015, 1, 1),
    max_value=datetime(2040, 12, 31),
    timezones=st.sampled_from(
        [UTC, LOCAL_TZ, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))]
    ),
)
working_times = st.timedeltas(min_value=timedelta(0), max_value=60 * CALENDAR.working_day_length)
processing_times = st.builds(
    ProcessingTime, st.integers(min_value=1, max_value=60), st.sampled_from(TimeUnit)
)
properties = settings(max_examples=200, deadline=None)


@properties
@given(start=instants, amount=working_times)
def test_working_time_added_counts_back_to_the_same_amount(
    start: datetime, amount: timedelta
) -> None:
    end = CALENDAR.add_working_time(start, amount)

    assert CALENDAR.working_time_between(start, end) == amount


@properties
@given(
    start=instants,
    amount=working_times,
    days_off=st.lists(st.dates(date(2015, 1, 1), date(2041, 12, 31)), max_size=30),
    working_days=st.lists(st.dates(date(2015, 1, 1), date(2041, 12, 31)), max_size=30),
)
def test_working_time_counts_back_on_an_operators_calendar_too(
    start: datetime, amount: timedelta, days_off: list[date], working_days: list[date]
) -> None:
    calendar = WorkCalendar(
        extra_days_off=days_off,
        extra_working_days=working_days,
        working_periods=[(time(7, 30), time(11, 45)), (time(13), time(16, 15))],
    )

    end = calendar.add_working_time(start, amount)

    assert calendar.working_time_between(start, end) == amount
    assert calendar.is_working_day(calendar.local_date(end))


@properties
@given(start=instants, processing_time=processing_times)
def test_a_due_date_is_never_on_a_day_off(start: datetime, processing_time: ProcessingTime) -> None:
    due = CALENDAR.due_at(start, processing_time)

    assert CALENDAR.is_working_day(CALENDAR.local_date(due))
    assert due.tzinfo is LOCAL_TZ


@properties
@given(start=instants, amounts=st.lists(working_times, min_size=2, max_size=2))
def test_more_working_time_never_ends_earlier(start: datetime, amounts: list[timedelta]) -> None:
    shorter, longer = sorted(amounts)

    assert CALENDAR.add_working_time(start, shorter) <= CALENDAR.add_working_time(start, longer)


@properties
@given(starts=st.lists(instants, min_size=2, max_size=2), processing_time=processing_times)
def test_a_later_receipt_is_never_due_earlier(
    starts: list[datetime], processing_time: ProcessingTime
) -> None:
    """Neither the due instant nor its date goes backwards, for both units (calendar-day periods
    end at the close of their last day)."""
    earlier, later = sorted(starts)
    due_earlier = CALENDAR.due_at(earlier, processing_time)
    due_later = CALENDAR.due_at(later, processing_time)

    assert due_earlier <= due_later
    assert CALENDAR.local_date(due_earlier) <= CALENDAR.local_date(due_later)


@properties
@given(instant=instants)
def test_the_next_working_moment_is_a_working_moment_with_no_working_time_before_it(
    instant: datetime,
) -> None:
    moment = CALENDAR.next_working_moment(instant)

    assert moment >= instant
    assert CALENDAR.is_working_moment(moment)
    assert CALENDAR.working_time_between(instant, moment) == timedelta(0)


# --- worked examples -------------------------------------------------------------------------


def test_a_dossier_received_the_friday_before_tet_2026_is_due_after_the_holiday_week() -> None:
    """Received Friday 2026-02-13 10:00 (+07:00), 5 working days (40 working hours).

    Friday 10:00-11:30 and 13:30-17:00: 5 h. Tết 2026 closes Monday 16 to Friday 20 February (with
    the weekends either side, 14 to 22 February). Monday 23 to Thursday 26: 4 x 8 h = 32 h, 37 h in
    all. Friday 27: the last 3 h from 07:00, so due Friday 2026-02-27 10:00 +07:00.
    """
    tet = vn_holidays(2026)
    assert all(date(2026, 2, day) in tet for day in range(16, 21))
    assert date(2026, 2, 13) not in tet
    assert date(2026, 2, 23) not in tet

    due = CALENDAR.due_at(local(2026, 2, 13, 10), ProcessingTime(5, TimeUnit.WORKING_DAYS))

    assert due == local(2026, 2, 27, 10)
    assert due.isoformat() == "2026-02-27T10:00:00+07:00"


def test_a_dossier_received_five_minutes_before_closing_is_due_five_minutes_before_closing() -> (
    None
):
    """Received Monday 2026-03-02 16:55, 5 working days; no holiday that fortnight.

    Monday: 5 min. Tuesday 3 to Friday 6: 32 h. Monday 9: the remaining 7 h 55 min, 4 h 30 min in
    the morning and 3 h 25 min from 13:30: due Monday 2026-03-09 16:55.
    """
    assert all(date(2026, 3, day) not in vn_holidays(2026) for day in range(2, 10))

    due = CALENDAR.add_working_days(local(2026, 3, 2, 16, 55), 5)

    assert due == local(2026, 3, 9, 16, 55)


def test_a_dossier_received_on_a_sunday_starts_its_clock_on_monday_morning() -> None:
    """Received Sunday 2026-03-01 09:00. The clock starts Monday 2026-03-02 07:00; 5 full working
    days, Monday 2 to Friday 6 March (no holiday that week), end Friday 2026-03-06 17:00, not the
    following Monday morning.
    """
    assert all(date(2026, 3, day) not in vn_holidays(2026) for day in range(2, 7))

    assert CALENDAR.next_working_moment(local(2026, 3, 1, 9)) == local(2026, 3, 2, 7)
    assert CALENDAR.add_working_days(local(2026, 3, 1, 9), 5) == local(2026, 3, 6, 17)


def test_the_swapped_saturday_of_april_2025_is_a_working_day() -> None:
    """The government moved the working day of Friday 2 May 2025 to Saturday 26 April 2025, making
    30/4 to 4/5 one five-day break. The package lists 26 April among `weekend_workdays` and 2 May as
    a day off.

    Received on that Saturday at 08:00 with 5 working days (40 h): Saturday 08:00-17:00 is 7 h;
    Monday 28 and Tuesday 29 April 16 h (23 h); Wednesday 30 April to Sunday 4 May are off; Monday
    5 May 8 h (31 h), Tuesday 6 May 8 h (39 h); the last hour on Wednesday 7 May: due 08:00.
    """
    vn_2025 = vn_holidays(2025)
    assert date(2025, 4, 26) in vn_2025.weekend_workdays
    assert date(2025, 5, 2) in vn_2025
    assert CALENDAR.is_working_day(date(2025, 4, 26))
    assert not CALENDAR.is_working_day(date(2025, 5, 2))
    assert not CALENDAR.is_working_day(date(2025, 4, 19))  # an ordinary Saturday

    assert CALENDAR.is_working_moment(local(2025, 4, 26, 8))
    assert CALENDAR.add_working_days(local(2025, 4, 26, 8), 5) == local(2025, 5, 7, 8)


def test_the_swapped_saturday_of_august_2026_is_a_working_day() -> None:
    """Saturday 22 August 2026 is worked in exchange for Monday 31 August (National Day break)."""
    vn_2026 = vn_holidays(2026)
    assert date(2026, 8, 22) in vn_2026.weekend_workdays
    assert date(2026, 8, 31) in vn_2026

    assert CALENDAR.is_working_day(date(2026, 8, 22))
    assert not CALENDAR.is_working_day(date(2026, 8, 31))


def test_a_dossier_received_at_lunch_starts_counting_at_13_30() -> None:
    """Received Monday 2026-03-02 12:00, during the lunch break: the clock starts at 13:30. One
    working day (8 h): Monday 13:30-17:00 is 3 h 30 min, Tuesday 07:00-11:30 the other 4 h 30 min,
    so it ends Tuesday 2026-03-03 at 11:30, the end of the morning, not at 13:30.
    """
    assert CALENDAR.next_working_moment(local(2026, 3, 2, 12)) == local(2026, 3, 2, 13, 30)
    assert CALENDAR.add_working_days(local(2026, 3, 2, 12), 1) == local(2026, 3, 3, 11, 30)


def test_an_operators_extra_day_off_pushes_the_due_date() -> None:
    """Received Monday 2026-03-02 10:00, 5 working days: 5 h Monday, Tuesday to Friday 32 h, the
    last 3 h on Monday 9 March: due 10:00. With Wednesday 4 March declared a day off, one more
    working day is needed: due Tuesday 2026-03-10 10:00.
    """
    received = local(2026, 3, 2, 10)
    with_day_off = WorkCalendar(extra_days_off=[date(2026, 3, 4)])

    assert CALENDAR.add_working_days(received, 5) == local(2026, 3, 9, 10)
    assert with_day_off.add_working_days(received, 5) == local(2026, 3, 10, 10)


def test_an_operators_extra_working_saturday_counts() -> None:
    """Received Monday 2026-03-02 10:00, 5 working days, with Saturday 7 March declared a working
    day: 5 h Monday, 32 h Tuesday to Friday, the last 3 h on that Saturday: due 2026-03-07 10:00.
    """
    with_saturday = WorkCalendar(extra_working_days=[date(2026, 3, 7)])

    assert with_saturday.add_working_days(local(2026, 3, 2, 10), 5) == local(2026, 3, 7, 10)


def test_an_extra_working_day_wins_over_a_holiday_and_an_extra_day_off_wins_over_all() -> None:
    """Labour Day, 1 May 2026, declared worked; then declared both worked and off: off wins."""
    labour_day = date(2026, 5, 1)
    assert labour_day in vn_holidays(2026)

    assert WorkCalendar(extra_working_days=[labour_day]).is_working_day(labour_day)
    both = WorkCalendar(extra_working_days=[labour_day], extra_days_off=[labour_day])
    assert not both.is_working_day(labour_day)


def test_working_time_that_runs_out_at_closing_ends_at_closing() -> None:
    """8 h from Monday 07:00 end Monday 17:00, not Tuesday 07:00; 4 h 30 min end at 11:30."""
    assert CALENDAR.add_working_time(local(2026, 3, 2, 7), 8 * HOUR) == local(2026, 3, 2, 17)
    morning = timedelta(hours=4, minutes=30)
    assert CALENDAR.add_working_time(local(2026, 3, 2, 7), morning) == local(2026, 3, 2, 11, 30)


@pytest.mark.parametrize(
    ("instant", "next_moment"),
    [
        (local(2026, 3, 2, 9, 15), local(2026, 3, 2, 9, 15)),
        (local(2026, 3, 2, 6, 59), local(2026, 3, 2, 7)),
        (local(2026, 3, 2, 11, 30), local(2026, 3, 2, 13, 30)),
        (local(2026, 3, 2, 17), local(2026, 3, 3, 7)),
        (local(2026, 3, 6, 17), local(2026, 3, 9, 7)),  # Friday evening: Monday
        (local(2026, 2, 13, 17), local(2026, 2, 23, 7)),  # before Tết: after Tết
        (datetime(2026, 3, 1, 23, 30, tzinfo=UTC), local(2026, 3, 2, 7)),  # 06:30 local, Monday
    ],
)
def test_the_next_working_moment(instant: datetime, next_moment: datetime) -> None:
    assert CALENDAR.next_working_moment(instant) == next_moment


def test_the_end_of_a_period_is_not_a_working_moment() -> None:
    assert CALENDAR.is_working_moment(local(2026, 3, 2, 7))
    assert not CALENDAR.is_working_moment(local(2026, 3, 2, 11, 30))
    assert not CALENDAR.is_working_moment(local(2026, 3, 2, 17))
    assert not CALENDAR.is_working_moment(local(2026, 3, 7, 9))  # Saturday


def test_working_time_between_counts_only_working_hours() -> None:
    """Friday 2026-02-13 10:00 to Friday 2026-02-27 10:00: 5 h, the Tết week nothing, then 4 full
    days and 3 h: 40 h. 11:00 to 14:00 is 30 min before lunch and 30 min after. Backwards or empty
    intervals count zero.
    """
    start, end = local(2026, 2, 13, 10), local(2026, 2, 27, 10)

    assert CALENDAR.working_time_between(start, end) == 40 * HOUR
    assert CALENDAR.working_time_between(end, start) == timedelta(0)
    assert CALENDAR.working_time_between(start, start) == timedelta(0)
    assert CALENDAR.working_time_between(local(2026, 3, 2, 11), local(2026, 3, 2, 14)) == HOUR


def test_calendar_days_ending_on_a_day_off_end_at_closing_of_the_next_working_day() -> None:
    """Received Friday 2026-02-13 10:00 with 5 calendar days: Wednesday 18 February is Tết, so the
    period ends at the end of working hours of the next working day, Monday 23 February, 17:00.
    15 calendar days reach Saturday 28 February: Monday 2 March 17:00.
    """
    received = local(2026, 2, 13, 10)

    assert CALENDAR.add_calendar_days(received, 5) == local(2026, 2, 23, 17)
    assert CALENDAR.add_calendar_days(received, 15) == local(2026, 3, 2, 17)


def test_a_calendar_day_period_ends_at_the_close_of_its_last_day() -> None:
    """Monday 2026-03-02 10:00 plus 10 days: the last day is Thursday 12 March, a working day,
    and the period ends at the close of it, 17:00 (Civil Code art. 147-148)."""
    assert CALENDAR.add_calendar_days(local(2026, 3, 2, 10), 10) == local(2026, 3, 12, 17)


def test_a_calendar_day_clock_starts_at_the_next_working_moment() -> None:
    """Received Saturday 2026-03-07 09:00 with 10 calendar days: the clock starts Monday 9 March at
    07:00, so the period's last day is Thursday 19 March and it ends at 17:00.
    """
    due = CALENDAR.due_at(local(2026, 3, 7, 9), ProcessingTime(10, TimeUnit.CALENDAR_DAYS))

    assert due == local(2026, 3, 19, 17)


def test_results_are_local_whatever_the_zone_of_the_start() -> None:
    """03:00 UTC is 10:00 in Hanoi: the Tết example again, given in UTC."""
    due = CALENDAR.add_working_days(datetime(2026, 2, 13, 3, tzinfo=UTC), 5)

    assert due == local(2026, 2, 27, 10)
    assert due.tzinfo is LOCAL_TZ
    assert CALENDAR.local_date(datetime(2026, 3, 1, 17, 30, tzinfo=UTC)) == date(2026, 3, 2)


def test_zero_working_time_ends_at_the_next_working_moment() -> None:
    assert CALENDAR.add_working_time(local(2026, 3, 2, 12), timedelta(0)) == local(
        2026, 3, 2, 13, 30
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: CALENDAR.next_working_moment(datetime(2026, 3, 2, 9)),
        lambda: CALENDAR.is_working_moment(datetime(2026, 3, 2, 9)),
        lambda: CALENDAR.add_working_time(datetime(2026, 3, 2, 9), HOUR),
        lambda: CALENDAR.working_time_between(datetime(2026, 3, 2, 9), local(2026, 3, 3)),
        lambda: CALENDAR.add_calendar_days(datetime(2026, 3, 2, 9), 1),
        lambda: CALENDAR.local_date(datetime(2026, 3, 2, 9)),
    ],
)
def test_naive_datetimes_are_refused(call: object) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        call()  # type: ignore[operator]


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_working_time(local(2026, 3, 2, 9), -HOUR)
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_working_days(local(2026, 3, 2, 9), -1)
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_calendar_days(local(2026, 3, 2, 9), -1)


# --- working periods and overrides -----------------------------------------------------------


def test_the_default_working_day_is_eight_hours() -> None:
    assert CALENDAR.working_day_length == 8 * HOUR
    assert WorkCalendar(working_periods=DEFAULT_WORKING_PERIODS).working_day_length == 8 * HOUR


def test_other_working_hours_change_the_length_of_a_working_day() -> None:
    """08:00-12:00 and 13:00-16:30 is 7 h 30 min; a working day from Monday 08:00 ends 16:30."""
    calendar = WorkCalendar(working_periods=[(time(8), time(12)), (time(13), time(16, 30))])

    assert calendar.working_day_length == timedelta(hours=7, minutes=30)
    assert calendar.add_working_days(local(2026, 3, 2, 8), 1) == local(2026, 3, 2, 16, 30)


@pytest.mark.parametrize(
    ("periods", "says"),
    [
        ([], "at least one"),
        ([(time(11), time(9))], "end after it starts"),
        ([(time(7), time(12)), (time(11), time(17))], "after the previous period"),
    ],
)
def test_bad_working_periods_are_refused(periods: list[tuple[time, time]], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        WorkCalendar(working_periods=periods)


def test_overrides_from_a_parsed_file() -> None:
    calendar = WorkCalendar.from_overrides(
        {
            "days_off": ["2026-09-03", date(2026, 12, 31)],
            "working_days": ["2026-12-26"],
            "working_periods": [["07:30", "11:30"], [time(13, 30), "17:30"]],
        }
    )

    assert not calendar.is_working_day(date(2026, 9, 3))
    assert not calendar.is_working_day(date(2026, 12, 31))
    assert calendar.is_working_day(date(2026, 12, 26))
    assert calendar.working_day_length == 8 * HOUR
    assert calendar.next_working_moment(local(2026, 3, 2, 7)) == local(2026, 3, 2, 7, 30)


def test_no_overrides_is_the_plain_calendar() -> None:
    calendar = WorkCalendar.from_overrides({})

    assert calendar.working_day_length == 8 * HOUR
    assert calendar.is_working_day(date(2026, 9, 3))


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"day_off": ["2026-09-03"]}, "'day_off' is not an override key"),
        ({"days_off": "2026-09-03"}, "days_off: must be a list"),
        ({"days_off": ["2026-09-31"]}, r"days_off\[0\]: '2026-09-31' is not a date"),
        ({"working_days": ["2026-12-26", "26/12/2026"]}, r"working_days\[1\]: '26/12/2026'"),
        ({"days_off": [datetime(2026, 9, 3, 8)]}, r"days_off\[0\]: datetime"),
        ({"days_off": [20260903]}, r"days_off\[0\]: 20260903 is not a date"),
        ({"working_periods": "07:00-17:00"}, "working_periods: must be a list"),
        ({"working_periods": [["07:00"]]}, r"working_periods\[0\]: \['07:00'\] is not a"),
        ({"working_periods": [["7h", "11h30"]]}, r"working_periods\[0\]: .* clock times"),
        ({"working_periods": [["13:00", "11:00"]]}, "working_periods: .* end after it starts"),
    ],
)
def test_bad_overrides_are_refused_naming_the_key_and_the_value(
    overrides: dict[str, object], says: str
) -> None:
    with pytest.raises(CalendarOverrideError, match=says):
        WorkCalendar.from_overrides(overrides)


def test_an_override_error_is_a_value_error() -> None:
    assert issubclass(CalendarOverrideError, ValueError)
