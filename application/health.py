"""What the ledger knows about its database, kept current by a background probe.

Requests ask this monitor instead of the database, so a fault is answered at once: while the
database is known to be unreachable every request that needs it is refused with 503 without
waiting, and health checks answer from memory whatever the database does. The probe asks
PostgreSQL every quarter of a second on a connection of its own, each question bounded by the
database timeout: a server that died, stopped answering (SIGSTOP) or is restarting is noticed
within that bound, and its recovery within a second. Anyone who meets a connection error
(`suspect`) makes the probe ask at once.

One question gives the head position and every read model's position, in one statement and so
in one snapshot: a lag computed from them is never negative.

The disk: with a data directory on this machine (the embedded server, or LEDGER_STORAGE_PATH),
its free space is read at every probe; below the reserve, writes are refused (`storage_full`)
before they reach PostgreSQL, and accepted again as soon as space returns. A write refused by
PostgreSQL for want of space (SQLSTATE 53100) refuses writes for a moment too, for servers whose
disk the ledger cannot see.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from application.database import EVENTS_TABLE
from application.transparency.alarms import open_alarms_on

_log = logging.getLogger(__name__)

PROBE_EVERY_SECONDS = 0.25
DISK_FULL_HOLD_SECONDS = 2.0


@dataclass(frozen=True)
class Positions:
    """The head and each read model's position, read in one snapshot."""

    head: int
    projections: dict[str, int | None] = field(default_factory=dict)
    alarms: tuple[str, ...] = ()  # open alarms about the transparency log

    def lags(self) -> dict[str, int]:
        return {name: self.head - (p or 0) for name, p in self.projections.items()}


class DatabaseMonitor:
    """Reachability, positions and free disk space, probed in a thread of its own."""

    def __init__(
        self,
        url: str,
        app_role: str,
        *,
        timeout: float = 2.0,
        storage_path: Path | None = None,
        storage_reserve_bytes: int = 0,
        application_name: str = "Ledger",
    ) -> None:
        self.url = url
        self.app_role = app_role
        self.timeout = timeout
        self.storage_path = storage_path
        self.storage_reserve_bytes = storage_reserve_bytes
        self.application_name = application_name
        self._reachable = True
        self._suspected = False
        self._server_down = False
        self.last_error = ""
        self.changed_at = time.monotonic()
        self.positions: Positions | None = None
        self.storage_free_bytes: int | None = None
        self.probes = 0
        self._disk_full_until = 0.0
        self._tracking: dict[str, sql.Composable] = {}
        self._listeners: list[Callable[[bool], None]] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._readings = threading.Condition()  # notified at each reading and at stop
        self._thread: threading.Thread | None = None
        self._connection: psycopg.Connection[Any] | None = None

    # --- what requests ask ---------------------------------------------------------------

    @property
    def reachable(self) -> bool:
        """False from the first connection error anyone meets until the probe answers."""
        return self._reachable and not self._suspected and not self._server_down

    @property
    def storage_full(self) -> bool:
        if time.monotonic() < self._disk_full_until:
            return True
        free = self.storage_free_bytes
        return free is not None and free < self.storage_reserve_bytes

    def suspect(self) -> None:
        """Someone met a connection error: count the database as unreachable and probe now."""
        self._suspected = True
        self._wake.set()

    def server_running(self, running: bool) -> None:
        """What the supervisor of the embedded server sees (application/embedded.py): a dead
        postmaster's backends may answer a little longer, but the server is gone."""
        self._server_down = not running
        if not running:
            self._set(reachable=False, error="the embedded PostgreSQL is not running")
        self._wake.set()

    def disk_full(self) -> None:
        """PostgreSQL refused a write for want of space."""
        self._disk_full_until = time.monotonic() + DISK_FULL_HOLD_SECONDS
        self._wake.set()

    def follow(self, tracking: Mapping[str, sql.Composable]) -> None:
        """Read these read models' positions (name -> their max-tracking-id statement).

        While the probe runs, returns once a reading holds them (at most the probe's timeout
        and a second: the database may be away), so readiness never answers without them."""
        self._tracking = dict(tracking)
        if self._thread is None:
            return
        self._wake.set()

        def held() -> bool:
            positions = self.positions
            return self._stopping.is_set() or (
                positions is not None and self._tracking.keys() <= positions.projections.keys()
            )

        with self._readings:
            self._readings.wait_for(held, timeout=self.timeout + 1)

    def on_change(self, listener: Callable[[bool], None]) -> Callable[[], None]:
        """Call `listener(reachable)` from the probe's thread when reachability changes;
        returns what stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- the probe -----------------------------------------------------------------------

    def start(self) -> None:
        self.probe()
        self._thread = threading.Thread(target=self._run, name="database-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        with self._readings:
            self._readings.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout * 2 + 1)
            self._thread = None
        self._drop_connection()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(PROBE_EVERY_SECONDS)
            self._wake.clear()
            if not self._stopping.is_set():
                self.probe()

    def probe(self) -> None:
        self.probes += 1
        self._measure_disk()
        suspected = self._suspected
        if self._server_down:
            self._drop_connection()
            self._set(reachable=False, error="the embedded PostgreSQL is not running")
            return
        outcome = _with_deadline(self._ask, self.timeout)
        if suspected:
            self._suspected = False
        if isinstance(outcome, Positions):
            with self._readings:
                self.positions = outcome
                self._readings.notify_all()
            self._set(reachable=True, error="")
            return
        if isinstance(outcome, TimeoutError):
            self._connection = None  # stuck on a server that does not answer: leave it be
        else:
            self._drop_connection()
        self._set(reachable=False, error=str(outcome) or type(outcome).__name__)

    def _ask(self) -> Positions:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(1, round(self.timeout)),
                options=f"-c role={self.app_role}",
            )
        names = list(self._tracking)
        parts: list[sql.Composable] = [
            sql.SQL("(SELECT max(notification_id) FROM {})").format(sql.Identifier(EVENTS_TABLE))
        ]
        parts += [sql.SQL("({})").format(self._tracking[name]) for name in names]
        statement = sql.SQL("SELECT ") + sql.SQL(", ").join(parts)
        row = self._connection.execute(statement, [self.application_name] * len(names)).fetchone()
        assert row is not None
        head = int(row[0] or 0)
        alarms = tuple(open_alarms_on(self._connection))
        return Positions(head, {name: row[1 + i] for i, name in enumerate(names)}, alarms)

    def _measure_disk(self) -> None:
        if self.storage_path is None:
            return
        try:
            stats = os.statvfs(self.storage_path)
        except OSError:
            return
        self.storage_free_bytes = stats.f_bavail * stats.f_frsize

    def _set(self, *, reachable: bool, error: str) -> None:
        self.last_error = error
        if reachable == self._reachable:
            return
        self._reachable = reachable
        self.changed_at = time.monotonic()
        if reachable:
            _log.warning("the database answers again")
        else:
            _log.warning("the database is unreachable: %s", error)
        for listener in list(self._listeners):
            try:
                listener(reachable)
            except Exception:
                _log.exception("a listener of the database monitor failed")

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # it is being thrown away
                connection.close()


def _with_deadline(call: Callable[[], Positions], timeout: float) -> Positions | BaseException:
    """`call()` in a helper thread, or TimeoutError when it does not return in time.

    A connection to a server that stopped (SIGSTOP) waits forever, and psycopg's synchronous
    calls take no deadline: the helper is left waiting and the probe goes on without it.
    """
    result: list[Positions | BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except Exception as error:
            result.append(error)

    helper = threading.Thread(target=run, name="database-probe-call", daemon=True)
    helper.start()
    helper.join(timeout)
    return result[0] if result else TimeoutError("the database did not answer in time")
