"""The working calendar (lịch làm việc) of Vietnam's public administration.

Working days are Monday to Friday minus the public holidays that the `holidays` package knows for
country VN (New Year, Tết and the other lunar holidays, 30/4, 1/5, 2/9, observed days), plus the
Saturdays the government swaps into working days. Three layers decide, each over the one before:

1. `holidays` (the pinned release);
2. the days off and working days decreed after that release (`decreed`: the ledger ships them,
   each with its legal source, e.g. 2 January 2026 off and Saturday 10 January 2026 worked,
   letter 12729/VPCP-KGVX);
3. an operator's overrides (a province's own days, or a decree the ledger does not ship yet).

Working hours are 07:00 to 11:30 and 13:30 to 17:00 by default: a working day is 8 hours.

Arithmetic is done on Asia/Ho_Chi_Minh wall-clock time: Vietnam has kept UTC+07:00, without daylight
saving, since 1975, so a wall-clock difference is elapsed time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib import metadata
from types import MappingProxyType
from typing import Any, Final, TypeAlias
from zoneinfo import ZoneInfo

import holidays

from domain.procedures import ProcessingTime, TimeUnit

LOCAL_TZ: Final[ZoneInfo] = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_WORKING_PERIODS: tuple[tuple[time, time], ...] = (
    (time(7), time(11, 30)),
    (time(13, 30), time(17)),
)

_ZERO: Final = timedelta()
_END_OF_DAY: Final = timedelta(days=1)
_SATURDAY: Final = 5
_OVERRIDE_KEYS: Final = ("days_off", "working_days", "working_periods")

Clock: TypeAlias = timedelta
"""A wall-clock time of day, as the time elapsed since local midnight."""


HOLIDAYS_SOURCE: Final = f"holidays {metadata.version('holidays')} (VN)"
"""Where the public holidays and swapped Saturdays of layer 1 come from."""

OPERATOR_SOURCE: Final = "operator's calendar file"


class CalendarOverrideError(ValueError):
    """An operator's calendar overrides are malformed; the message names the key and the value."""


@dataclass(frozen=True)
class CalendarDay:
    """A day that is not an ordinary weekday or weekend day: a day off (`working` False) or an
    extra working day, with its name and where it comes from (a legal source, `holidays`, or
    the operator's file)."""

    day: date
    working: bool
    name: str
    source: str


class WorkCalendar:
    """Working days and working hours, and the arithmetic of processing times on them.

    Immutable; safe to share between threads. Every instant taken must be timezone-aware (naive
    ones raise ValueError); every instant returned is in `LOCAL_TZ`.
    """

    __slots__ = (
        "_day_length",
        "_days_off",
        "_decreed",
        "_operator_source",
        "_periods",
        "_working_days",
        "_working_ordinals",
    )

    def __init__(
        self,
        *,
        decreed: Iterable[CalendarDay] = (),
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        working_periods: Sequence[tuple[time, time]] = DEFAULT_WORKING_PERIODS,
        operator_source: str = OPERATOR_SOURCE,
    ) -> None:
        """`decreed`: layer 2; `extra_days_off` and `extra_working_days`: the operator's layer 3
        (a day in both is a day off), named `operator_source` in `days_of_note`."""
        self._decreed = _decreed(decreed)
        self._days_off = _dates(extra_days_off, "extra_days_off")
        self._working_days = _dates(extra_working_days, "extra_working_days")
        self._operator_source = operator_source
        self._periods = _clock_periods(working_periods)
        self._day_length = sum((end - start for start, end in self._periods), _ZERO)
        # Per year, the ordinals of its working days, sorted: whole days are skipped by bisection.
        self._working_ordinals: dict[int, tuple[int, ...]] = {}

    @classmethod
    def from_overrides(
        cls,
        overrides: Mapping[str, Any],
        *,
        decreed: Iterable[CalendarDay] = (),
        operator_source: str = OPERATOR_SOURCE,
    ) -> WorkCalendar:
        """A calendar with an operator's overrides, as parsed from a TOML or JSON file.

        `{"days_off": ["2026-09-03", …], "working_days": ["2026-…", …],
        "working_periods": [["07:00", "11:30"], …]}`, every key optional. Dates may also be TOML
        dates and times TOML local times.
        """
        if not isinstance(overrides, Mapping):
            raise CalendarOverrideError(
                "the overrides must be a table with the keys " + ", ".join(_OVERRIDE_KEYS)
            )
        for key in overrides:
            if key not in _OVERRIDE_KEYS:
                known = ", ".join(_OVERRIDE_KEYS)
                raise CalendarOverrideError(f"{key!r} is not an override key (known: {known})")
        working_periods: Sequence[tuple[time, time]] = DEFAULT_WORKING_PERIODS
        if "working_periods" in overrides:
            working_periods = _override_periods(overrides["working_periods"])
        return cls(
            decreed=decreed,
            extra_days_off=_override_dates(overrides, "days_off"),
            extra_working_days=_override_dates(overrides, "working_days"),
            working_periods=working_periods,
            operator_source=operator_source,
        )

    @property
    def working_day_length(self) -> timedelta:
        return self._day_length

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday except public holidays, plus swapped Saturdays; then the decreed
        days; then the operator's overrides.

        A decreed day wins over `holidays`; an operator's extra working day wins over both; an
        operator's extra day off wins over everything.
        """
        if day in self._days_off:
            return False
        if day in self._working_days:
            return True
        decreed = self._decreed.get(day)
        if decreed is not None:
            return decreed.working
        public_holidays, weekend_workdays = _public_calendar(day.year)
        if day.weekday() >= _SATURDAY:
            return day in weekend_workdays
        return day not in public_holidays

    def days_of_note(self, year: int) -> list[CalendarDay]:
        """The year's days off on weekdays, holidays, and extra working days, in date order,
        each as the layer that decides it says (see `is_working_day`)."""
        holiday_names, weekend_workdays = _public_names(year)
        found: dict[date, CalendarDay] = {
            day: CalendarDay(day, False, name, HOLIDAYS_SOURCE)
            for day, name in holiday_names.items()
        }
        for day in weekend_workdays:
            found[day] = CalendarDay(day, True, "Ngày làm việc bù", HOLIDAYS_SOURCE)
        for day, entry in self._decreed.items():
            if day.year == year:
                found[day] = entry
        for day in self._working_days | self._days_off:
            if day.year == year:
                working = day not in self._days_off
                name = "Ngày làm việc" if working else "Ngày nghỉ"
                found[day] = CalendarDay(day, working, name, self._operator_source)
        return [found[day] for day in sorted(found)]

    def is_working_moment(self, instant: datetime) -> bool:
        """Inside working hours of a working day; a period's end (11:30, 17:00) is not."""
        local = _local(instant)
        clock = _clock(local)
        return self.is_working_day(local.date()) and any(
            start <= clock < end for start, end in self._periods
        )

    def next_working_moment(self, instant: datetime) -> datetime:
        """`instant` itself if it is a working moment, else the start of the next working period."""
        return _at(*self._work_start(instant))

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which `amount` of working time, counted from `start`, is used up.

        Counting starts at the next working moment. When the amount runs out exactly at the end of
        a working period, that end (11:30, 17:00) is the answer, not the next period's start.
        """
        if amount < _ZERO:
            raise ValueError(f"working time must not be negative: {amount}")
        day, clock = self._work_start(start)
        if not amount:
            return _at(day, clock)
        left_today = self._worked(clock, _END_OF_DAY)
        if amount <= left_today:
            return _at(day, self._clock_after(clock, amount))
        whole_days, rest = divmod(amount - left_today, self._day_length)
        if not rest:
            whole_days, rest = whole_days - 1, self._day_length
        return _at(self._nth_working_day_after(day, whole_days + 1), self._clock_after(_ZERO, rest))

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """The working time in [start, end); zero when `end` is not after `start`."""
        first, last = _local(start), _local(end)
        if last <= first:
            return _ZERO
        first_day, last_day = first.date(), last.date()
        if first_day == last_day:
            if not self.is_working_day(first_day):
                return _ZERO
            return self._worked(_clock(first), _clock(last))
        total = self._day_length * self._working_days_strictly_between(first_day, last_day)
        if self.is_working_day(first_day):
            total += self._worked(_clock(first), _END_OF_DAY)
        if self.is_working_day(last_day):
            total += self._worked(_ZERO, _clock(last))
        return total

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """`days` working days (ngày làm việc) of `working_day_length`, counted from `start`."""
        if days < 0:
            raise ValueError(f"working days must not be negative: {days}")
        return self.add_working_time(start, self._day_length * days)

    def add_calendar_days(self, start: datetime, days: int) -> datetime:
        """The end of the period of `days` calendar days that begins at `start`.

        Civil Code 2015 (Bộ luật Dân sự), art. 147-148: a period counted in days begins on the
        day after the event and ends at the end of its last day; when that day is a weekend day
        or a holiday, it ends at the end of the next working day. For an agency the end of a day
        is the end of its working hours (17:00 by default). Ending every period at the close of
        a day keeps due instants in step with receipt instants: a later receipt is never due
        earlier.
        """
        if days < 0:
            raise ValueError(f"calendar days must not be negative: {days}")
        last_day = _local(start).date() + timedelta(days=days)
        if not self.is_working_day(last_day):
            last_day = self._nth_working_day_after(last_day, 1)
        return _at(last_day, self._periods[-1][1])

    def due_at(self, start: datetime, processing_time: ProcessingTime) -> datetime:
        """When a dossier received at `start` is due (hạn trả kết quả).

        The clock starts at receipt, or at the next working moment when received outside working
        hours; working days and working hours are counted in working time, calendar days by
        `add_calendar_days`, a time with a same-day cutoff by `add_days_with_cutoff`.
        """
        amount, unit = processing_time.amount, processing_time.unit
        if processing_time.same_day_cutoff is not None:
            return self.add_days_with_cutoff(start, amount, processing_time.same_day_cutoff)
        if unit == TimeUnit.WORKING_DAYS:
            return self.add_working_days(start, amount)
        if unit == TimeUnit.WORKING_HOURS:
            return self.add_working_time(start, timedelta(hours=amount))
        if unit == TimeUnit.CALENDAR_DAYS:
            return self.add_calendar_days(self.next_working_moment(start), amount)
        raise ValueError(f"unknown processing time unit: {unit!r}")

    def add_days_with_cutoff(self, start: datetime, days: int, cutoff: time) -> datetime:
        """The close of the `days`-th working day after the day of receipt (0: that day).

        The day of receipt is the local date of `start` when it is a working day and `start` is
        before `cutoff`; otherwise the next working day. So with 0 days and a 15:00 cutoff, a
        dossier received at 14:59 is due at 17:00 that day, and one received at 15:00 at 17:00
        on the next working day (the same-day procedures of the catalogues: "trong ngày làm
        việc; nếu tiếp nhận sau 15 giờ thì trả trong ngày làm việc tiếp theo").
        """
        if days < 0:
            raise ValueError(f"working days must not be negative: {days}")
        local = _local(start)
        day = local.date()
        if not self.is_working_day(day) or _clock(local) >= _time_clock(cutoff):
            day = self._nth_working_day_after(day, 1)
        if days:
            day = self._nth_working_day_after(day, days)
        return _at(day, self._periods[-1][1])

    def local_date(self, instant: datetime) -> date:
        """The date of `instant` in Asia/Ho_Chi_Minh: the date the legal rules speak of."""
        return _local(instant).date()

    def _work_start(self, instant: datetime) -> tuple[date, Clock]:
        """The working day and clock time of the first working moment at or after `instant`."""
        local = _local(instant)
        day, clock = local.date(), _clock(local)
        if self.is_working_day(day):
            for start, end in self._periods:
                if clock < end:
                    return day, max(clock, start)
        return self._nth_working_day_after(day, 1), self._periods[0][0]

    def _worked(self, since: Clock, until: Clock) -> timedelta:
        """Working time between two clock times of one working day."""
        total = _ZERO
        for start, end in self._periods:
            overlap = min(end, until) - max(start, since)
            if overlap > _ZERO:
                total += overlap
        return total

    def _clock_after(self, since: Clock, amount: timedelta) -> Clock:
        """The clock time at which `amount` (> 0, at most what is left that day) is used up."""
        for start, end in self._periods:
            begin = max(start, since)
            if begin < end:
                if amount <= end - begin:
                    return begin + amount
                amount -= end - begin
        raise ValueError(f"{amount} of working time is left beyond the end of the working day")

    def _nth_working_day_after(self, day: date, n: int) -> date:
        ordinal, year = day.toordinal(), day.year
        while True:
            ordinals = self._working_ordinals_of(year)
            later = bisect_right(ordinals, ordinal)
            if later + n <= len(ordinals):
                return date.fromordinal(ordinals[later + n - 1])
            n -= len(ordinals) - later
            year += 1

    def _working_days_strictly_between(self, first: date, last: date) -> int:
        low, high = first.toordinal(), last.toordinal()
        count = 0
        for year in range(first.year, last.year + 1):
            ordinals = self._working_ordinals_of(year)
            count += bisect_left(ordinals, high) - bisect_right(ordinals, low)
        return count

    def _working_ordinals_of(self, year: int) -> tuple[int, ...]:
        ordinals = self._working_ordinals.get(year)
        if ordinals is None:
            days = range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1)
            ordinals = tuple(day for day in days if self.is_working_day(date.fromordinal(day)))
            self._working_ordinals[year] = ordinals
        return ordinals


@cache
def _public_calendar(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """Vietnam's public holidays and swapped working weekend days in `year`, per `holidays`."""
    names, weekend_workdays = _public_names(year)
    return frozenset(names), weekend_workdays


@cache
def _public_names(year: int) -> tuple[Mapping[date, str], frozenset[date]]:
    """The public holidays of `year` with their Vietnamese names, and its working weekend days.

    A swap is listed under the year of its day off, which may be the year before or after the
    working Saturday (31/12/2018 off for Saturday 05/01/2019), so the neighbouring years are loaded.
    """
    country = holidays.country_holidays("VN", years=(year - 1, year, year + 1), language="vi")
    names = {day: name for day, name in country.items() if day.year == year}
    weekend_workdays = frozenset(day for day in country.weekend_workdays if day.year == year)
    return MappingProxyType(names), weekend_workdays


def _decreed(entries: Iterable[CalendarDay]) -> dict[date, CalendarDay]:
    by_day: dict[date, CalendarDay] = {}
    for entry in entries:
        if entry.day in by_day:
            raise ValueError(f"decreed calendar: {entry.day} appears twice")
        by_day[entry.day] = entry
    return by_day


def _local(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no time zone; instants must be aware")
    return instant.astimezone(LOCAL_TZ)


def _clock(local: datetime) -> Clock:
    return timedelta(
        hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )


def _at(day: date, clock: Clock) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ) + clock


def _dates(values: Iterable[date], name: str) -> frozenset[date]:
    days = frozenset(values)
    for day in days:
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ValueError(f"{name}: {day!r} is not a date")
    return days


def _clock_periods(periods: Sequence[tuple[time, time]]) -> tuple[tuple[Clock, Clock], ...]:
    """Working periods as clock times, checked: in order, each non-empty, none overlapping."""
    if not periods:
        raise ValueError("there must be at least one working period")
    clock_periods: list[tuple[Clock, Clock]] = []
    previous_end = _ZERO
    for index, (start, end) in enumerate(periods):
        label = f"working period {index} ({start} to {end})"
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"{label} must be local clock times, without a time zone")
        start_clock, end_clock = _time_clock(start), _time_clock(end)
        if end_clock <= start_clock:
            raise ValueError(f"{label} must end after it starts")
        if start_clock < previous_end:
            raise ValueError(f"{label} must start after the previous period ends")
        clock_periods.append((start_clock, end_clock))
        previous_end = end_clock
    return tuple(clock_periods)


def _time_clock(moment: time) -> Clock:
    return timedelta(
        hours=moment.hour,
        minutes=moment.minute,
        seconds=moment.second,
        microseconds=moment.microsecond,
    )


def _override_dates(overrides: Mapping[str, Any], key: str) -> list[date]:
    values = overrides.get(key, [])
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise CalendarOverrideError(f"{key}: must be a list of dates (YYYY-MM-DD), not {values!r}")
    days = []
    for index, value in enumerate(values):
        day = _override_date(value)
        if day is None:
            raise CalendarOverrideError(f"{key}[{index}]: {value!r} is not a date (YYYY-MM-DD)")
        days.append(day)
    return days


def _override_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) == len("2026-09-02"):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _override_periods(values: object) -> list[tuple[time, time]]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise CalendarOverrideError(
            f'working_periods: must be a list of [start, end] pairs like ["07:00", "11:30"], '
            f"not {values!r}"
        )
    periods = []
    for index, pair in enumerate(values):
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise CalendarOverrideError(
                f"working_periods[{index}]: {pair!r} is not a [start, end] pair "
                'like ["07:00", "11:30"]'
            )
        start, end = (_override_time(value) for value in pair)
        if start is None or end is None:
            raise CalendarOverrideError(
                f"working_periods[{index}]: {pair!r} must hold two clock times (HH:MM)"
            )
        periods.append((start, end))
    try:
        _clock_periods(periods)
    except ValueError as error:
        raise CalendarOverrideError(f"working_periods: {error}") from error
    return periods


def _override_time(value: object) -> time | None:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            return None
    return None
