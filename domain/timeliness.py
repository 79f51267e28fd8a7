"""Timeliness (tiến độ giải quyết): was a dossier handled early, on time or late, or is it overdue?

The national scoring rule (Decision 766/QĐ-TTg, indicator 2.1, the on-time rate) counts a finished
dossier by the local DATE of its finish against the local date of its due date, and an open one at
the moment of asking. `classify` takes plain facts, so the aggregate and the read models (projection
rows) classify the same way.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from domain.calendar import WorkCalendar
from domain.status import Status


class Timeliness(StrEnum):
    EARLY = "early"  # trước hạn
    ON_TIME = "on_time"  # đúng hạn
    LATE = "late"  # quá hạn
    IN_TIME = "in_time"  # open, still in time (trong hạn)
    DUE_SOON = "due_soon"  # open, due within one working day (sắp đến hạn)
    OVERDUE = "overdue"  # open, past its due date

    @property
    def finished(self) -> bool:
        return self in _FINISHED_CLASSES

    @property
    def counts_in_time(self) -> bool:
        """Counts toward the on-time rate: finished early or on time, or open and not overdue."""
        return self is not Timeliness.LATE and self is not Timeliness.OVERDUE


_FINISHED_CLASSES = frozenset({Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE})

FINISHED_STATUSES = frozenset(
    {Status.RESOLVED, Status.RESULT_RETURNED, Status.PROCESSING_STOPPED, Status.WITHDRAWN}
)
"""Statuses classified at their finish: resolved (and returned), stopped, withdrawn."""


class TimelinessFacts(Protocol):
    """What classification needs to know of a dossier (the aggregate, or a projection's row)."""

    @property
    def status(self) -> Status | None: ...
    @property
    def received_at(self) -> datetime | None: ...
    @property
    def original_due_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def paused_at(self) -> datetime | None: ...
    @property
    def supplement_requests(self) -> int: ...


def classify(facts: TimelinessFacts, now: datetime, calendar: WorkCalendar) -> Timeliness | None:
    """The dossier's timeliness at `now`, or None when it is not in the denominator.

    Dossiers refused at receipt, and dossiers never received, are not counted. The due date that
    counts is the original one: an apology letter (DeadlineExtended) gives the applicant a new
    appointment date but does not make a late dossier timely. A received dossier without a due
    date (its procedure sets no appointment date) is never late: on time once finished, in time
    while open.
    """
    if facts.status is None or facts.status == Status.RECEIPT_REFUSED:
        return None
    if facts.received_at is None:
        return None
    if facts.original_due_at is None:
        return Timeliness.ON_TIME if facts.status in FINISHED_STATUSES else Timeliness.IN_TIME
    if facts.status in FINISHED_STATUSES:
        return _finished(facts, facts.original_due_at, calendar)
    return _open(facts, facts.original_due_at, now, calendar)


def _finished(
    facts: TimelinessFacts, due_at: datetime, calendar: WorkCalendar
) -> Timeliness | None:
    """Decision 766/QĐ-TTg: a withdrawn dossier counts as on time; one that needed more than one
    supplementation request counts as late; otherwise the local date of the finish against the
    local date of the due date: earlier is early, the same day on time, later late.
    """
    if facts.status == Status.WITHDRAWN:
        return Timeliness.ON_TIME
    if facts.supplement_requests > 1:
        return Timeliness.LATE
    # Finished while the clock was stopped (stopped waiting for a supplement, say): it stopped
    # when the wait began.
    finished_at = facts.finished_at if facts.paused_at is None else facts.paused_at
    if finished_at is None:
        return None
    finished_on = calendar.local_date(finished_at)
    due_on = calendar.local_date(due_at)
    if finished_on < due_on:
        return Timeliness.EARLY
    if finished_on == due_on:
        return Timeliness.ON_TIME
    return Timeliness.LATE


def _open(
    facts: TimelinessFacts, due_at: datetime, now: datetime, calendar: WorkCalendar
) -> Timeliness:
    """An open dossier at the moment of asking, judged like a finish at that moment.

    Overdue once the local date is past the due date's (a dossier resolved later that same day is
    still on time), or once it needed more than one supplementation request (it can only count
    late). While the clock is stopped (waiting for a supplement, status 5, or for fees that pause
    it, status 6) it is judged at the moment the wait began. Due soon when at most one working
    day of processing time remains.
    """
    if facts.supplement_requests > 1:
        return Timeliness.OVERDUE
    moment = now if facts.paused_at is None else facts.paused_at
    if calendar.local_date(moment) > calendar.local_date(due_at):
        return Timeliness.OVERDUE
    if moment >= due_at:
        return Timeliness.DUE_SOON
    if calendar.working_time_between(moment, due_at) <= calendar.working_day_length:
        return Timeliness.DUE_SOON
    return Timeliness.IN_TIME
