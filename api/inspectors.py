"""Inspectors: a dossier's full history, its state at any past moment, lists and reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import Parameter

from api.auth import require, runtime_of
from api.ingest import status_out
from api.problems import ProblemError
from api.schemas import DossierOut, shown
from application.keys import Role
from application.ledger import HistoryEntry, history, replay
from domain.code import DossierCode
from domain.dossier import Dossier


class HistoryEventOut(msgspec.Struct):
    version: int
    position: int
    type: str
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, str]
    source: str
    data: dict[str, Any]


class HistoryOut(msgspec.Struct):
    dossier_code: str
    events: list[HistoryEventOut]


_ENVELOPE = {"event_id", "occurred_at", "recorded_at", "actor_id", "actor_role", "source"}


def history_event(entry: HistoryEntry) -> HistoryEventOut:
    fields = entry.fields()
    return HistoryEventOut(
        version=entry.version,
        position=entry.position,
        type=entry.type,
        event_id=fields["event_id"],
        occurred_at=shown(fields["occurred_at"]),
        recorded_at=shown(fields["recorded_at"]),
        actor={"id": fields["actor_id"], "role": fields["actor_role"]},
        source=fields["source"],
        data={
            key: shown(value) if isinstance(value, datetime) else value
            for key, value in fields.items()
            if key not in _ENVELOPE
        },
    )


def dossier_out(dossier: Dossier, now: datetime, calendar: Any) -> DossierOut:
    timeliness = dossier.timeliness(now, calendar)
    return DossierOut(
        code=str(dossier.code),
        procedure=dossier.procedure_code,
        agency=dossier.agency,
        channel=None if dossier.channel is None else dossier.channel.value,
        status=status_out(dossier.status),
        received_at=shown(dossier.received_at),
        due_at=shown(dossier.due_at),
        original_due_at=shown(dossier.original_due_at),
        resolved_at=shown(dossier.resolved_at),
        returned_at=shown(dossier.returned_at),
        supplement_requests=dossier.supplement_requests,
        timeliness=None if timeliness is None else timeliness.value,
        version=dossier.version,
    )


def parse_code(code: str) -> DossierCode:
    return DossierCode.parse(code)  # a malformed code is a DomainError: 422 naming the part


def _not_found(code: str) -> ProblemError:
    return ProblemError(404, "dossier_not_found", f"no dossier {code} in the ledger", field="code")


class InspectorController(Controller):
    """For inspectors (role `inspector`): read everything, change nothing."""

    path = "/v1/dossiers"
    tags = ["inspectors"]
    guards = [require(Role.INSPECTOR)]

    @get("/{code:str}", summary="One dossier as it stands now")
    async def dossier(self, request: Request[Any, Any, Any], code: str) -> DossierOut:
        runtime = runtime_of(request)
        entries = await asyncio.to_thread(history, runtime.ledger, parse_code(code))
        dossier = replay(entries)
        if dossier is None:
            raise _not_found(code)
        return dossier_out(dossier, datetime.now(UTC), runtime.rules.calendar)

    @get("/{code:str}/history", summary="Every event of a dossier, in order, with its position")
    async def history(self, request: Request[Any, Any, Any], code: str) -> HistoryOut:
        runtime = runtime_of(request)
        entries = await asyncio.to_thread(history, runtime.ledger, parse_code(code))
        if not entries:
            raise _not_found(code)
        return HistoryOut(dossier_code=code, events=[history_event(e) for e in entries])

    @get(
        "/{code:str}/state",
        summary="The dossier as it stood after a version, or at an instant",
        description=(
            "`version=N`: replayed up to version N. `at=INSTANT` (RFC 3339): replayed with the "
            "events that had occurred by then, and classified for timeliness at that instant."
        ),
    )
    async def state(
        self,
        request: Request[Any, Any, Any],
        code: str,
        version: int | None = Parameter(
            default=None, ge=1, description="replay up to this version"
        ),
        at: datetime | None = Parameter(default=None, description="replay up to this instant"),
    ) -> DossierOut:
        runtime = runtime_of(request)
        if (version is None) == (at is None):
            raise ProblemError(
                422, "invalid_value", "give exactly one of version= or at=", field="version"
            )
        if at is not None and at.tzinfo is None:
            raise ProblemError(422, "invalid_value", "at= needs an offset, e.g. +07:00", field="at")
        entries = await asyncio.to_thread(history, runtime.ledger, parse_code(code))
        if not entries:
            raise _not_found(code)
        if version is not None:
            if version > entries[-1].version:
                raise ProblemError(
                    404,
                    "version_not_found",
                    f"{code} has {entries[-1].version} versions",
                    field="version",
                )
            chosen = [e for e in entries if e.version <= version]
            moment = chosen[-1].event.occurred_at
        else:
            assert at is not None
            chosen = [e for e in entries if e.event.occurred_at <= at]
            moment = at
        dossier = replay(chosen)
        if dossier is None:
            raise ProblemError(404, "not_yet_existing", f"{code} did not exist at {at}", field="at")
        return dossier_out(dossier, moment, runtime.rules.calendar)
