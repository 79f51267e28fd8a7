"""The `audit_log` read model: every stored event, in notification order, a leaf of the
transparency log (application.transparency.log holds its tables and SQL).

A page is logged from the events table itself, not from the decoded events the runner hands
over: the leaf is the stored record (dossier id, version, topic, the state's exact bytes), read
by notification id in the page's transaction, and every row counts, whatever its type. The leaves,
the subtree hashes they complete and the tracking position commit together, under the read
model's advisory lock (projections.view): exactly once, without gaps.

Checkpoints are signed where this projection runs: `start_checkpointing` beside the runner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow

from application.bootstrap import Database, open_ledger
from application.ledger import open_view
from application.settings import Settings
from application.transparency.checkpoints import CheckpointSchedule, checkpointer_for
from application.transparency.log import AuditLog, AuditTables, LogStore, StoredCheckpoint
from application.transparency.witnessing import Witnessing, with_cosignatures
from domain.calendar import WorkCalendar
from domain.dossier import Dossier
from projections.names import AUDIT_LOG, DEFAULT_PAGE_SIZE
from projections.runner import ProjectionRunner
from projections.view import PAGE_IDLE_TIMEOUT_SECONDS, Page, PagedProjection, PagedView


class AuditLogView(PagedView):
    decodes_events = False  # it logs the stored rows themselves

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.tables = AuditTables(datastore.schema, self.base_name)
        self.sql_create_statements.extend(self.tables.create_statements())
        self.log = AuditLog(datastore, self.tables)

    @property
    def read_model_tables(self) -> tuple[str, ...]:
        return (self.tables.leaves_name, self.tables.subtrees_name)

    def apply_page(self, page: Page, calendar: WorkCalendar) -> bool:
        """Log the events table's rows after the tracked position up to the page's last
        notification, with the position, in one transaction (False: the page is stale)."""
        with self.datastore.transaction(commit=True) as cursor:
            tracked = self._locked_position(cursor, page.tracking.application_name)
            if page.after is not None and page.after != tracked:
                return False
            until = page.tracking.notification_id
            if until <= tracked:
                return True
            self.log_rows(cursor, tracked, until)
            self._insert_tracking(cursor, page.tracking)
        return True

    def _locked_position(self, cursor: Cursor[DictRow], application_name: str) -> int:
        cursor.execute(self._lock_statement, (self.lock_key,), prepare=True)
        cursor.execute(self._position_statement, (application_name,), prepare=True)
        row = cursor.fetchone()
        return 0 if row is None or row["notification_id"] is None else int(row["notification_id"])

    def log_rows(self, cursor: Cursor[DictRow], after: int, until: int) -> None:
        LogStore(cursor, self.tables).append_stored_events(after, until)

    def write(
        self, cursor: Cursor[DictRow], events: Sequence[Dossier.Event], calendar: WorkCalendar
    ) -> None:
        raise TypeError("the audit log logs stored rows, not decoded events: see apply_page")


class AuditLogProjection(PagedProjection[AuditLogView]):
    name = AUDIT_LOG


def open_audit_log(env: Mapping[str, str], name: str = AUDIT_LOG) -> AuditLogView:
    """The audit log's view (its tables created if missing), acting as the application role."""
    return open_view(AuditLogView, name, env)


def start_checkpointing(database: Database, settings: Settings) -> CheckpointSchedule:
    """Sign checkpoints of the audit log every settings.checkpoint_every_events events or
    settings.checkpoint_every_seconds seconds, in a thread, until `stop()`.

    Creates the signing key (mode 0600) at settings.signing_key_path on first start.
    """
    view = open_audit_log(database.ledger_env(pool_size=1))
    schedule = CheckpointSchedule(
        checkpointer_for(view.log, settings),
        every_events=settings.checkpoint_every_events,
        every_seconds=settings.checkpoint_every_seconds,
        on_stop=view.datastore.close,
        witnessing=witnessing_for(view.log, settings),
    )
    schedule.start()
    return schedule


def catch_up_audit_log(
    database: Database, view: AuditLogView, *, page_size: int = DEFAULT_PAGE_SIZE
) -> int:
    """Log every event stored so far (in this thread); the position reached."""
    ledger = open_ledger(database, pool_size=1)
    try:
        # The audit log reads no calendar; its projection takes one like every read model.
        runner = ProjectionRunner(
            [AuditLogProjection(view, WorkCalendar())], ledger, page_size=page_size
        )
        runner.catch_up(ledger.recorder.max_notification_id() or 0)
        return runner.position()
    finally:
        ledger.close()


def witnessing_for(log: AuditLog, settings: Settings) -> Witnessing | None:
    """The witnesses of the settings (None: none configured)."""
    if not settings.witnesses:
        return None
    return Witnessing(log, settings.witnesses, retry_seconds=settings.checkpoint_every_seconds)


def checkpoint_now(
    database: Database, settings: Settings
) -> tuple[StoredCheckpoint | None, dict[str, str]]:
    """Log every event stored so far, then sign a checkpoint if the log grew (raises
    CheckpointRefused if that would contradict an earlier checkpoint) and ask the witnesses to
    cosign it. The latest checkpoint, with its cosignatures, and each witness's outcome."""
    env = database.ledger_env(pool_size=1, idle_in_transaction_timeout=PAGE_IDLE_TIMEOUT_SECONDS)
    view = open_audit_log(env)
    try:
        catch_up_audit_log(database, view)
        latest = checkpointer_for(view.log, settings).checkpoint()
        witnessing = witnessing_for(view.log, settings)
        outcomes = {} if witnessing is None else witnessing.witness_latest()
        if latest is not None:
            latest = replace(latest, note=with_cosignatures(view.log, latest))
        return latest, outcomes
    finally:
        view.datastore.close()
