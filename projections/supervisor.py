"""`ledger project`'s side of the projector processes: start one worker per read model, restart
one that exits, and stop them all (SIGTERM, then SIGKILL after a grace period)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable

from projections.names import ALL, DEFAULT_PAGE_SIZE

RESTART_DELAY_SECONDS = 2.0

_log = logging.getLogger(__name__)


class Supervisor:
    """The worker processes (projections.worker), one per read model.

    Workers inherit this process's environment (the same LEDGER_* settings), with
    LEDGER_DATABASE_URL set to the database this process migrated (the embedded server's, when
    none was configured).
    """

    def __init__(
        self,
        database_url: str,
        *,
        names: Iterable[str] = ALL,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.environment = {**os.environ, "LEDGER_DATABASE_URL": database_url}
        self.names = tuple(names)
        self.page_size = page_size
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts = 0
        self._exited_at: dict[str, float] = {}

    def start(self) -> None:
        for name in self.names:
            self._spawn(name)

    def check(self) -> None:
        """Restart, after a short delay, any worker that exited."""
        now = time.monotonic()
        for name, worker in list(self.workers.items()):
            code = worker.poll()
            if code is None:
                continue
            if name not in self._exited_at:
                _log.warning("projector %s exited with code %s; restarting it", name, code)
                self._exited_at[name] = now
            elif now - self._exited_at[name] >= RESTART_DELAY_SECONDS:
                del self._exited_at[name]
                self.restarts += 1
                self._spawn(name)

    def stop(self, grace_seconds: float = 30) -> None:
        for worker in self.workers.values():
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for worker in self.workers.values():
            try:
                worker.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    def _spawn(self, name: str) -> None:
        command = [
            sys.executable,
            "-m",
            "projections.worker",
            name,
            "--batch",
            str(self.page_size),
            "--parent",
            str(os.getpid()),
        ]
        self.workers[name] = subprocess.Popen(command, env=self.environment)  # noqa: S603
