"""Health as orchestrators use it, answered from memory (within milliseconds, whatever the
database does): the probe of application/health.py keeps the figures current.

- `/health/live`: the process answers (restart it if not).
- `/health/ready`: it can serve: the database answers, the ingest writer runs, the disk has
  room, and no read model lags more than LEDGER_READY_MAX_LAG events (when set). Each reason
  against is named.
- `/health`: the figures of both, as before (200 or 503).
"""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from api.ingest import Ingest
from api.schemas import HealthOut
from application.runtime import Runtime


class LiveOut(msgspec.Struct):
    status: Literal["ok"]


class ReadyOut(msgspec.Struct):
    status: Literal["ready", "not_ready"]
    reasons: list[str]
    database: Literal["ok", "unavailable"]
    writer: Literal["running", "stopped"]
    storage_free_bytes: int | None
    events: int | None
    projections: dict[str, dict[str, int | None]]
    alarms: list[str] = []  # open alarms about the transparency log: act on them


@get(
    "/health",
    summary="Database reachability and projection lag",
    tags=["operations"],
    responses={503: ResponseSpec(HealthOut, description="The database is unreachable")},
)
async def health(runtime: NamedDependency[Runtime]) -> Response[HealthOut]:
    report = runtime.health()
    status_code = 200 if report.status == "ok" else 503
    body = HealthOut(
        report.status, report.database, report.events, report.projections, list(report.alarms)
    )
    return Response(body, status_code=status_code)


@get("/health/live", summary="The process answers", tags=["operations"])
async def live() -> LiveOut:
    return LiveOut("ok")


@get(
    "/health/ready",
    summary="The ledger can serve: database, writer, disk, read models' lag",
    description=(
        "200 when ready, else 503 with the reasons: database_unavailable, writer_stopped, "
        "storage_full, projection_lag:<name>."
    ),
    tags=["operations"],
    responses={503: ResponseSpec(ReadyOut, description="Not ready: the reasons say why")},
)
async def ready(ingest: NamedDependency[Ingest]) -> Response[ReadyOut]:
    runtime = ingest.runtime
    report = runtime.health()
    writer_running = ingest.writer.running
    reasons = []
    if report.database != "ok":
        reasons.append("database_unavailable")
    if not writer_running:
        reasons.append("writer_stopped")
    if report.storage_full:
        reasons.append("storage_full")
    limit = runtime.settings.ready_max_lag
    if limit:
        reasons += [
            f"projection_lag:{name}"
            for name, figures in report.projections.items()
            if (figures.get("lag") or 0) > limit
        ]
    body = ReadyOut(
        status="not_ready" if reasons else "ready",
        reasons=reasons,
        database=report.database,
        writer="running" if writer_running else "stopped",
        storage_free_bytes=report.storage_free_bytes,
        events=report.events,
        projections=report.projections,
        alarms=list(report.alarms),
    )
    return Response(body, status_code=503 if reasons else 200)
