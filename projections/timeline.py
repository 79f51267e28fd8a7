"""A dossier's history read for people: the public's milestones and the inspector's timeline.

Both are computed from the stored events (application.ledger.history), replayed one by one, so
that every line says the state right after its event:

- milestones (the public): each change of status with its time, and nothing else (no actor,
  no reason, no note, no reference);
- timeline (inspectors): every event with its type, actor role, the status and due date after
  it, whether the processing clock was stopped after it (waiting for a supplement), and the
  working time used against the time allowed.

Working time used = working time from receipt to the moment, less the spans waiting for a
supplement (the clock is stopped then). Time allowed = working time from receipt to the due date
timeliness counts (original_due_at), less the same spans: used above allowed is overdue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from application.ledger import HistoryEntry
from domain.calendar import WorkCalendar
from domain.dossier import Dossier
from domain.status import Status


@dataclass(frozen=True)
class Milestone:
    status: Status
    at: datetime


@dataclass(frozen=True)
class TimelineLine:
    version: int
    position: int
    type: str
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    actor_role: str
    status: Status | None
    due_at: datetime | None
    due_changed: bool
    paused: bool
    working_used: timedelta | None
    working_allowed: timedelta | None
    dossier: Dossier


def _replayed(entries: Sequence[HistoryEntry]) -> list[tuple[HistoryEntry, Dossier]]:
    """Each event with a copy of the dossier as it stood right after it."""
    states: list[tuple[HistoryEntry, Dossier]] = []
    dossier: Dossier | None = None
    for entry in entries:
        dossier = entry.event.mutate(_copy(dossier))
        assert dossier is not None
        states.append((entry, dossier))
    return states


def _copy(dossier: Dossier | None) -> Dossier | None:
    if dossier is None:
        return None
    copied = object.__new__(Dossier)
    copied.__dict__.update({**dossier.__dict__, "applied": dict(dossier.applied)})
    return copied


def public_milestones(entries: Sequence[HistoryEntry]) -> list[Milestone]:
    milestones: list[Milestone] = []
    for entry, dossier in _replayed(entries):
        if dossier.status is not None and (
            not milestones or milestones[-1].status != dossier.status
        ):
            milestones.append(Milestone(dossier.status, entry.event.occurred_at))
    return milestones


def _waits(
    spans: Sequence[tuple[datetime, datetime]], calendar: WorkCalendar, until: datetime
) -> timedelta:
    total = timedelta()
    for start, end in spans:
        if start < until:
            total += calendar.working_time_between(start, min(end, until))
    return total


def timeline(entries: Sequence[HistoryEntry], calendar: WorkCalendar) -> list[TimelineLine]:
    lines: list[TimelineLine] = []
    spans: list[tuple[datetime, datetime]] = []
    previous_due: datetime | None = None
    for entry, dossier in _replayed(entries):
        fields: dict[str, Any] = entry.fields()
        moment = entry.event.occurred_at
        if entry.type == "SupplementProvided":
            spans.append((fields["paused_at"], moment))
        open_spans = [*spans, (dossier.paused_at, moment)] if dossier.paused_at else spans
        used = allowed = None
        if dossier.received_at is not None and dossier.original_due_at is not None:
            end = dossier.finished_at or moment
            used = calendar.working_time_between(dossier.received_at, end) - _waits(
                open_spans, calendar, end
            )
            allowed = calendar.working_time_between(
                dossier.received_at, dossier.original_due_at
            ) - _waits(open_spans, calendar, dossier.original_due_at)
        lines.append(
            TimelineLine(
                version=entry.version,
                position=entry.position,
                type=entry.type,
                event_id=fields["event_id"],
                occurred_at=moment,
                recorded_at=fields["recorded_at"],
                actor_role=fields["actor_role"],
                status=dossier.status,
                due_at=dossier.due_at,
                due_changed=dossier.due_at != previous_due and previous_due is not None,
                paused=dossier.paused_at is not None,
                working_used=used,
                working_allowed=allowed,
                dossier=dossier,
            )
        )
        previous_due = dossier.due_at
    return lines
