"""Alarms about the log: evidence that someone was shown another history than the one we sign.

An alarm is raised when a witness refuses a checkpoint signed with the log's own key as
inconsistent with one it cosigned before (the log was forked, or rolled back), or when a witness
has seen a larger tree than the log now has. It is logged at CRITICAL, kept in the
`audit_log_alarms` table until an operator acknowledges it (`ledger audit alarms --acknowledge`),
counted by the `ledger_audit_log_alarms` metric and shown by the health checks, in every process
that reads the database (the signer may run in another process than the API).
"""

from __future__ import annotations

import logging
import threading

import psycopg
from psycopg import sql

from application.transparency.log import ALARMS_TABLE, AuditLog

_log = logging.getLogger(__name__)

WITNESS_REFUSED = "witness_refused_checkpoint"
WITNESS_AHEAD = "witness_saw_larger_tree"


class AlarmCounter:
    """Alarms raised by this process since it started (the rest come from the database)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.raised = 0

    def add(self) -> None:
        with self._lock:
            self.raised += 1


RAISED = AlarmCounter()


def raise_alarm(log: AuditLog, kind: str, tree_size: int | None, reason: str) -> None:
    """Log at CRITICAL and keep the alarm until acknowledged."""
    _log.critical("AUDIT LOG ALARM (%s) at tree size %s: %s", kind, tree_size, reason)
    RAISED.add()
    with log.writing() as store:
        store.add_alarm(kind, tree_size, reason)


def alarm_reasons(url: str, app_role: str, timeout: int = 2) -> list[str]:
    """The open alarms, one line each, asked as the application role on a connection of its own
    (for health checks: /health, and readiness). Empty if the log's tables do not exist yet.
    Raises psycopg.Error if the database does not answer."""
    with psycopg.connect(url, connect_timeout=timeout, options=f"-c role={app_role}") as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (ALARMS_TABLE,)).fetchone()
        if not exists or not exists[0]:
            return []
        rows = conn.execute(
            sql.SQL(
                "SELECT kind, tree_size, reason FROM {} WHERE acknowledged_at IS NULL ORDER BY id"
            ).format(sql.Identifier(ALARMS_TABLE))
        ).fetchall()
    return [f"{kind} at tree size {size}: {reason}" for kind, size, reason in rows]
