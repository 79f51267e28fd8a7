"""Classifying many dossiers in SQL the way `domain.timeliness.classify` classifies one.

A dossier's class depends on the moment of asking only while its clock runs (statuses 2, 4 and
6, not paused, with a due date). Once it is finished (early, on time, late), while its clock is
stopped (waiting for a supplement, or for fees that pause it: judged at the moment the wait
began), or when it has no due date (always in time), its class is settled: the projections store
it. For the others, two instants computed once from `now` (`OpenBounds`) separate the classes in
SQL:

- overdue: more than one supplementation request, or `original_due_at < overdue_before` (the
  local midnight that starts today: today's local date is past the due date's);
- due soon: otherwise `original_due_at <= due_soon_until`, the instant until which at most one
  working day of processing time separates `now` from the due date (a due date already passed
  earlier today included);
- in time: the rest.

tests/unit/test_classification.py checks these bounds against `classify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Final

from domain.calendar import LOCAL_TZ, WorkCalendar
from domain.status import Status
from domain.timeliness import FINISHED_STATUSES, Timeliness, TimelinessFacts, classify

RUNNING_CLOCK_STATUSES: Final = (Status.RECEIVED, Status.PROCESSING, Status.FEE_REQUESTED)
"""Open statuses in which the clock runs (unless `paused_at` says fees stopped it): the class
changes with the moment of asking."""

OPEN_STATUSES: Final = (*RUNNING_CLOCK_STATUSES, Status.SUPPLEMENT_REQUESTED)
"""Received and not finished: the open part of the on-time rate's denominator."""


def settled_timeliness(facts: TimelinessFacts, calendar: WorkCalendar) -> Timeliness | None:
    """The class of a dossier whose class no longer depends on when one asks, else None.

    Finished dossiers are judged at their finish; a dossier whose clock is stopped at the moment
    the wait began (until the clock runs again, when the projection clears it); an open one
    without a due date is in time whenever one asks.
    """
    if facts.status in FINISHED_STATUSES:
        moment = facts.finished_at
    elif facts.status not in OPEN_STATUSES:
        return None
    elif facts.paused_at is not None:
        moment = facts.paused_at
    elif facts.original_due_at is None:
        moment = facts.received_at
    else:
        return None
    if moment is None:
        return None
    return classify(facts, moment, calendar)


@dataclass(frozen=True)
class OpenBounds:
    """The instants that classify open dossiers with a running clock at one moment, `now`."""

    now: datetime
    overdue_before: datetime
    due_soon_until: datetime

    @classmethod
    def at(cls, now: datetime, calendar: WorkCalendar) -> OpenBounds:
        """`due_soon_until`: the working time from `now` reaches one working day at
        `add_working_time(now, day)` and stays there until the next working moment."""
        today = calendar.local_date(now)
        one_day_later = calendar.add_working_time(now, calendar.working_day_length)
        return cls(
            now=now,
            overdue_before=datetime.combine(today, time(), LOCAL_TZ),
            due_soon_until=calendar.next_working_moment(one_day_later),
        )

    def parameters(self) -> dict[str, datetime]:
        """The named query parameters the SQL predicates use."""
        return {"overdue_before": self.overdue_before, "due_soon_until": self.due_soon_until}
