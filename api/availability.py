"""Faults answered at once: 503 problem documents with Retry-After, never a wait or a 500.

- While the database is known to be unreachable (application/health.py), every request under
  /v1/ is answered `database_unavailable` before it touches anything; while its disk is full,
  every write is answered `storage_full` (reads go on).
- Requests already under way when the database becomes unreachable (a server that stopped
  answering holds them) are answered `database_unavailable` at that moment; whatever they do
  later is discarded.
- The errors that mean the same thing when they come from deeper down (a lost connection, no
  connection within the bound, writers that kept conflicting, a disk PostgreSQL found full)
  are mapped to the same answers here.

Every one of these answers is safe to retry with the same `event_id`: an event is stored once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from psycopg import OperationalError as PsycopgOperationalError
from psycopg.errors import DiskFull
from psycopg_pool import PoolTimeout

from api.problems import (
    PROBLEM_BASE,
    PROBLEM_JSON,
    Problem,
    problem_response,
)
from application.database import DatabaseUnavailable
from application.health import DatabaseMonitor
from application.writer import AsyncIngestWriter, StorageFull, WriteContention, WriterStopped

_log = logging.getLogger(__name__)

FAULTS = (
    (
        HTTP_503_SERVICE_UNAVAILABLE,
        "database_unavailable",
        2,
        "the ledger's database cannot be reached; retry later with the same event_id "
        "(an event is never stored twice)",
    ),
    (
        HTTP_503_SERVICE_UNAVAILABLE,
        "storage_full",
        10,
        "the ledger's disk is full: writes are refused until space is freed; retry later "
        "with the same event_id (nothing of this request was stored)",
    ),
    (
        HTTP_503_SERVICE_UNAVAILABLE,
        "write_contention",
        1,
        "other writers kept appending to the same dossier first; nothing of this request was "
        "stored: retry with the same event_id",
    ),
)
"""Each fault's status, rule, Retry-After (seconds) and detail."""
RETRY_AFTER = {rule: seconds for _, rule, seconds, _ in FAULTS}
DETAILS = {rule: detail for _, rule, _, detail in FAULTS}


def unavailable_problem(rule: str, instance: str | None = None) -> Problem:
    return Problem(
        type=PROBLEM_BASE + rule,
        title=rule.replace("_", " ").capitalize(),
        status=HTTP_503_SERVICE_UNAVAILABLE,
        detail=DETAILS[rule],
        instance=instance,
        rule=rule,
    )


def unavailable_response(rule: str, instance: str | None = None) -> Response[bytes]:
    headers = {"Retry-After": str(RETRY_AFTER[rule])}
    return problem_response(unavailable_problem(rule, instance), headers)


class _Answer:
    """One request under way: the `send` it uses, and whether an answer has begun."""

    __slots__ = ("cut", "path", "send", "started")

    def __init__(self, send: Send, path: str) -> None:
        self.send = send
        self.path = path
        self.started = False
        self.cut = False

    async def guarded_send(self, message: Message) -> None:
        if self.cut:
            return  # answered 503 already: what the request does later is discarded
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)

    async def answer_unavailable(self) -> None:
        if self.started or self.cut:
            return
        self.cut = True
        await _send_problem(self.send, "database_unavailable", self.path)


async def _send_problem(send: Send, rule: str, path: str) -> None:
    body = msgspec.json.encode(unavailable_problem(rule, path))
    await send(
        {
            "type": "http.response.start",
            "status": HTTP_503_SERVICE_UNAVAILABLE,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER[rule]).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


class FailFast:
    """Answers requests that need the database at once while it is known to be unavailable,
    and those under way when it becomes so. One per application (see `watch`)."""

    def __init__(self) -> None:
        self.under_way: set[_Answer] = set()
        self.cuts: set[asyncio.Task[None]] = set()
        self.monitor: DatabaseMonitor | None = None
        self.unwatch: Callable[[], None] = lambda: None

    def watch(self, monitor: DatabaseMonitor, loop: asyncio.AbstractEventLoop) -> None:
        self.monitor = monitor

        def changed(reachable: bool) -> None:
            if not reachable:
                loop.call_soon_threadsafe(self.cut_all)

        self.unwatch = monitor.on_change(changed)

    def cut_all(self) -> None:
        for answer in list(self.under_way):
            task = asyncio.ensure_future(answer.answer_unavailable())
            self.cuts.add(task)
            task.add_done_callback(self.cuts.discard)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def fail_fast(scope: Scope, receive: Receive, send: Send) -> None:
            monitor = self.monitor
            if (
                monitor is None
                or scope["type"] != ScopeType.HTTP
                or not scope["path"].startswith("/v1/")
            ):
                await app(scope, receive, send)
                return
            if scope["method"] == "POST" and monitor.storage_full:
                await _send_problem(send, "storage_full", scope["path"])
                return
            if not monitor.reachable:
                await _send_problem(send, "database_unavailable", scope["path"])
                return
            answer = _Answer(send, scope["path"])
            self.under_way.add(answer)
            try:
                await app(scope, receive, answer.guarded_send)
            except Exception:
                if not answer.cut:
                    raise  # to the exception handlers
                # answered already: its failure (the database's) was that answer
            finally:
                self.under_way.discard(answer)

        return fail_fast


def watch_database(
    monitor: DatabaseMonitor, writer: AsyncIngestWriter, fail_fast: FailFast
) -> Callable[[], None]:
    """On this event loop: when the database becomes unreachable, the requests under way are
    answered and the ingest writer gives up the group it waits for. Returns what stops it."""
    loop = asyncio.get_running_loop()
    fail_fast.watch(monitor, loop)

    def changed(reachable: bool) -> None:
        if not reachable:
            loop.call_soon_threadsafe(writer.abandon)

    stop_writer_watch = monitor.on_change(changed)

    def unwatch() -> None:
        fail_fast.unwatch()
        stop_writer_watch()

    return unwatch


def availability_handlers(fail_fast: FailFast) -> dict[Any, Any]:
    """Exception handlers that take precedence over api/problems.py's for the same errors.

    What they learn goes to the database monitor that `fail_fast` watches: exception handlers
    get no dependencies injected, and the monitor is there once the lifespan has started.
    """

    def on_unavailable(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
        if isinstance(error.__cause__, DiskFull):  # eventsourcing wraps psycopg's errors
            return on_storage_full(request, error)
        _log.warning("database unavailable: %s", error)
        if (monitor := fail_fast.monitor) is not None and not isinstance(error, WriterStopped):
            monitor.suspect()
        return unavailable_response("database_unavailable", request.url.path)

    def on_storage_full(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
        _log.warning("storage full: %s", error)
        if (monitor := fail_fast.monitor) is not None:
            monitor.disk_full()
        return unavailable_response("storage_full", request.url.path)

    return {
        **dict.fromkeys(UNAVAILABLE, on_unavailable),
        DiskFull: on_storage_full,
        StorageFull: on_storage_full,
        WriteContention: _on_contention,
    }


def _on_contention(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    _log.info("write contention: %s", error)
    return unavailable_response("write_contention", request.url.path)


UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    PsycopgOperationalError,
    PoolTimeout,
    DatabaseUnavailable,
    WriterStopped,
)
