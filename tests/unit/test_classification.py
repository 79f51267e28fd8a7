"""The SQL classification's pure part: the bounds of OpenBounds and settled classes agree with
domain.timeliness.classify for every moment and due date."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import LOCAL_TZ, WorkCalendar
from domain.status import Status
from domain.timeliness import Timeliness, classify
from projections.classification import (
    OPEN_STATUSES,
    RUNNING_CLOCK_STATUSES,
    OpenBounds,
    settled_timeliness,
)

CALENDAR = WorkCalendar()


@dataclass(frozen=True)
class Row:
    status: Status | None
    original_due_at: datetime | None
    finished_at: datetime | None = None
    paused_at: datetime | None = None
    supplement_requests: int = 0
    received_at: datetime | None = datetime(2025, 1, 1, tzinfo=LOCAL_TZ)


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(LOCAL_TZ)
)
# Due dates near the moment of asking, where the classes change.
offsets = st.timedeltas(min_value=timedelta(days=-6), max_value=timedelta(days=6))


def bounds_class(row: Row, bounds: OpenBounds) -> Timeliness:
    """What the SQL predicates say of a running dossier (projections.dossier_status)."""
    assert row.original_due_at is not None
    if row.supplement_requests > 1 or row.original_due_at < bounds.overdue_before:
        return Timeliness.OVERDUE
    if row.original_due_at <= bounds.due_soon_until:
        return Timeliness.DUE_SOON
    return Timeliness.IN_TIME


@settings(max_examples=400, deadline=None)
@given(
    now=instants,
    offset=offsets,
    requests=st.integers(0, 3),
    status=st.sampled_from(RUNNING_CLOCK_STATUSES),
)
def test_bounds_classify_running_dossiers_like_classify(
    now: datetime, offset: timedelta, requests: int, status: Status
) -> None:
    row = Row(status, original_due_at=now + offset, supplement_requests=requests)

    assert bounds_class(row, OpenBounds.at(now, CALENDAR)) is classify(row, now, CALENDAR)


@given(now=instants)
def test_the_bounds_are_ordered(now: datetime) -> None:
    bounds = OpenBounds.at(now, CALENDAR)

    assert bounds.overdue_before <= now <= bounds.due_soon_until


@settings(max_examples=200, deadline=None)
@given(
    now=instants,
    later=offsets,
    finished=offsets,
    requests=st.integers(0, 3),
    status=st.sampled_from([*OPEN_STATUSES, Status.RESOLVED, Status.WITHDRAWN,
                            Status.PROCESSING_STOPPED, Status.RESULT_RETURNED]),
)  # fmt: skip
def test_a_settled_class_is_the_class_at_any_later_moment(
    now: datetime, later: timedelta, finished: timedelta, requests: int, status: Status
) -> None:
    moment = now + finished
    row = Row(
        status,
        original_due_at=now,
        finished_at=moment,
        paused_at=moment if status is Status.SUPPLEMENT_REQUESTED else None,
        supplement_requests=requests,
    )
    settled = settled_timeliness(row, CALENDAR)
    if status in RUNNING_CLOCK_STATUSES:
        assert settled is None
    else:
        assert settled is classify(row, moment + abs(later), CALENDAR)


def test_refused_and_never_received_dossiers_have_no_class() -> None:
    refused = Row(
        Status.RECEIPT_REFUSED, None, finished_at=datetime.now(LOCAL_TZ), received_at=None
    )
    withdrawn_unreceived = Row(
        Status.WITHDRAWN, None, finished_at=datetime.now(LOCAL_TZ), received_at=None
    )

    assert settled_timeliness(refused, CALENDAR) is None
    assert settled_timeliness(withdrawn_unreceived, CALENDAR) is None
