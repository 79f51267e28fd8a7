"""Timeliness classes (Decision 766/QĐ-TTg): the finish's local date against the due date's."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import WorkCalendar
from domain.status import Status
from domain.timeliness import Timeliness, classify

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CALENDAR = WorkCalendar()
DUE = datetime(2026, 3, 9, 10, tzinfo=TZ)  # Monday 9 March 2026, 10:00
FAR_FUTURE = datetime(2027, 1, 1, tzinfo=TZ)


@dataclass(frozen=True)
class Row:
    """What a read model keeps of a dossier: enough to classify it."""

    status: Status | None
    original_due_at: datetime | None = DUE
    received_at: datetime | None = datetime(2026, 3, 2, 9, tzinfo=TZ)
    finished_at: datetime | None = None
    paused_at: datetime | None = None
    supplement_requests: int = 0


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(
    ("finished_at", "expected"),
    [
        (at(6, 16), Timeliness.EARLY),  # the Friday before
        (at(9, 7), Timeliness.ON_TIME),
        (at(9, 16, 59), Timeliness.ON_TIME),  # after the due hour, but the same day
        (at(10, 7), Timeliness.LATE),
    ],
)
@pytest.mark.parametrize(
    "status", [Status.RESOLVED, Status.RESULT_RETURNED, Status.PROCESSING_STOPPED]
)
def test_a_finished_dossier_is_judged_by_the_local_date_of_its_finish(
    status: Status, finished_at: datetime, expected: Timeliness
) -> None:
    row = Row(status, finished_at=finished_at)

    assert classify(row, FAR_FUTURE, CALENDAR) is expected
    assert expected.finished


def test_local_dates_decide_not_utc_dates() -> None:
    """Resolved at 06:30 on 10 March in Hà Nội is 23:30 on 9 March in UTC: still late."""
    row = Row(Status.RESOLVED, finished_at=at(10, 6, 30))

    assert classify(row, FAR_FUTURE, CALENDAR) is Timeliness.LATE


def test_a_withdrawn_dossier_counts_as_on_time_even_after_its_due_date() -> None:
    row = Row(Status.WITHDRAWN, finished_at=at(20, 9), supplement_requests=2)

    assert classify(row, FAR_FUTURE, CALENDAR) is Timeliness.ON_TIME


def test_more_than_one_supplementation_request_counts_as_late() -> None:
    assert (
        classify(
            Row(Status.RESOLVED, finished_at=at(3, 9), supplement_requests=2), FAR_FUTURE, CALENDAR
        )
        is Timeliness.LATE
    )
    assert (
        classify(
            Row(Status.RESOLVED, finished_at=at(3, 9), supplement_requests=1), FAR_FUTURE, CALENDAR
        )
        is Timeliness.EARLY
    )
    assert classify(Row(Status.PROCESSING, supplement_requests=2), at(3, 9), CALENDAR) is (
        Timeliness.OVERDUE
    )


@pytest.mark.parametrize(
    "row",
    [
        Row(Status.RECEIPT_REFUSED, None, None, finished_at=at(2, 9)),
        Row(Status.SUBMITTED, None, None),
        Row(Status.WITHDRAWN, None, None, finished_at=at(2, 9)),  # before receipt
        Row(None, None, None),
    ],
    ids=["refused at receipt", "submitted only", "withdrawn before receipt", "no dossier"],
)
def test_a_dossier_never_received_is_not_in_the_denominator(row: Row) -> None:
    assert classify(row, FAR_FUTURE, CALENDAR) is None


@pytest.mark.parametrize("status", [Status.RECEIVED, Status.PROCESSING, Status.FEE_REQUESTED])
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2, 10), Timeliness.IN_TIME),
        (at(6, 9, 59), Timeliness.IN_TIME),  # 8 h 01 min of working time left
        (at(6, 10), Timeliness.DUE_SOON),  # Fri 10:00 to 17:00 (5 h) + Mon 07:00 to 10:00 (3 h)
        (at(9, 9), Timeliness.DUE_SOON),
        (at(9, 16), Timeliness.DUE_SOON),  # past the hour, not the day: still resolvable on time
        (at(10, 7), Timeliness.OVERDUE),
    ],
)
def test_an_open_dossier_is_judged_at_the_moment_of_asking(
    status: Status, now: datetime, expected: Timeliness
) -> None:
    assert classify(Row(status), now, CALENDAR) is expected
    assert not expected.finished


def test_the_due_soon_window_is_one_working_day_across_a_weekend() -> None:
    """Friday 16:00 to Monday 10:00 is 1 + 3 = 4 working hours: due soon despite 66 hours."""
    assert classify(Row(Status.PROCESSING), at(6, 16), CALENDAR) is Timeliness.DUE_SOON
    assert classify(Row(Status.PROCESSING), at(5, 16), CALENDAR) is Timeliness.IN_TIME


def test_while_waiting_for_a_supplement_the_clock_is_stopped() -> None:
    waiting = Row(Status.SUPPLEMENT_REQUESTED, paused_at=at(3, 9), supplement_requests=1)

    assert classify(waiting, at(30, 9), CALENDAR) is Timeliness.IN_TIME


def test_a_dossier_stopped_while_waiting_for_a_supplement_is_judged_when_the_wait_began() -> None:
    stopped = Row(
        Status.PROCESSING_STOPPED, finished_at=at(30, 9), paused_at=at(3, 9), supplement_requests=1
    )

    assert classify(stopped, FAR_FUTURE, CALENDAR) is Timeliness.EARLY


def test_what_counts_toward_the_on_time_rate() -> None:
    counted = {t for t in Timeliness if t.counts_in_time}

    assert counted == {
        Timeliness.EARLY,
        Timeliness.ON_TIME,
        Timeliness.IN_TIME,
        Timeliness.DUE_SOON,
    }
