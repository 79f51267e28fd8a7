"""The DossierLedger application: dossier events in PostgreSQL through eventsourcing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    InfrastructureFactory,
    StoredEvent,
    TrackingRecorder,
)
from eventsourcing.utils import Environment, get_topic
from psycopg import sql
from psycopg_pool.base import AttemptWithBackoff

from application.database import ConnectionParams
from application.mapper import MsgspecMapper
from application.reads import AsyncReads
from application.recorder import LedgerRecorder
from domain.code import DossierCode
from domain.dossier import Dossier, dossier_id
from domain.status import Status

TView = TypeVar("TView", bound=TrackingRecorder)

APPLICATION_NAME = "Ledger"  # eventsourcing names the events table after it: ledger_events


def persistence_env(
    url: str,
    *,
    app_role: str | None,
    create_table: bool,
    pool_size: int = 10,
    timeout: float = 2.0,
    idle_in_transaction_timeout: int = 5,
) -> dict[str, str]:
    """eventsourcing's settings for a PostgreSQL URL (the library reads them from a mapping).

    `timeout` bounds both the wait for a pooled connection and each connection attempt: no
    request waits longer for a connection, whatever the database does. A transaction left idle
    longer than `idle_in_transaction_timeout` seconds is ended by the server (eventsourcing's
    default, 5 s; the projectors' transactions compute a page between statements, and take more).
    """
    params = ConnectionParams.from_url(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_HOST": params.host,
        "POSTGRES_PORT": params.port,
        "POSTGRES_DBNAME": params.dbname,
        "POSTGRES_USER": params.user,
        "POSTGRES_PASSWORD": params.password,
        # One connection kept open, up to `pool_size` opened on demand (eventsourcing's pool
        # size is psycopg_pool's minimum): several API workers, each with a pool per read
        # model, would otherwise exhaust max_connections when they start.
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": str(max(pool_size - 1, 0)),
        "POSTGRES_LOCK_TIMEOUT": "30",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(idle_in_transaction_timeout),
        "POSTGRES_CONNECT_TIMEOUT": str(max(1, round(timeout))),
        "POSTGRES_PRE_PING": "y",
        "CREATE_TABLE": "y" if create_table else "n",
        "MAPPER_TOPIC": get_topic(MsgspecMapper),
        "APPLICATION_RECORDER_TOPIC": get_topic(LedgerRecorder),
        "LEDGER_APP_ROLE": app_role or "",
    }


def reconnect_quickly() -> None:
    """psycopg_pool tries a failed connection again after 1 s, then 2, 4, 8 s...: after an
    outage of a few seconds a pool would wait 8 s more before it tried again. The ledger's pools
    try every quarter of a second (the embedded server restarts in about a second)."""
    AttemptWithBackoff.INITIAL_DELAY = 0.25
    AttemptWithBackoff.DELAY_BACKOFF = 1.0


reconnect_quickly()


def restrict_sessions(factory: InfrastructureFactory[Any], app_role: str | None) -> None:
    """Make every pooled session act as the restricted role from its first statement."""
    datastore = factory.datastore  # type: ignore[attr-defined]
    if app_role:
        datastore.pool.kwargs["options"] = f"-c role={app_role}"
    # eventsourcing bounds the wait for a pooled connection, not the connection attempt.
    datastore.pool.kwargs["connect_timeout"] = max(1, round(datastore.pool.timeout))


def open_view(view_class: type[TView], name: str, env: Mapping[str, str]) -> TView:
    """A projection's view (a PostgresTrackingRecorder subclass) on the ledger's database.

    Its tables are named after `name` (eventsourcing's convention: `{name}_tracking`), created
    if missing, and owned by the application role, which runs the projections.
    """
    view_env = Environment(name, {**env, "CREATE_TABLE": "y"})
    factory = InfrastructureFactory[TView].construct(env=view_env)
    restrict_sessions(factory, env.get("LEDGER_APP_ROLE"))
    return factory.tracking_recorder(view_class)


class DossierLedger(Application[UUID]):
    """Every action on every dossier, as immutable events in one PostgreSQL table."""

    name = APPLICATION_NAME

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(env)

    def construct_factory(self, env: Any) -> InfrastructureFactory:
        factory = super().construct_factory(env)
        restrict_sessions(factory, env.get("LEDGER_APP_ROLE"))
        return factory

    def get_dossier(self, code: DossierCode, version: int | None = None) -> Dossier | None:
        try:
            dossier: Dossier = self.repository.get(dossier_id(code), version=version)
        except AggregateNotFoundError:
            return None
        return dossier


@dataclass(frozen=True)
class HistoryEntry:
    """One stored event as an inspector sees it."""

    version: int
    position: int
    topic: str
    event: Dossier.Event

    @property
    def type(self) -> str:
        return type(self.event).__name__

    def fields(self) -> dict[str, Any]:
        """The event's own fields (identity and library bookkeeping aside)."""
        return {
            key: value
            for key, value in vars(self.event).items()
            if key not in {"originator_id", "originator_version", "timestamp"}
        }


HISTORY_COLUMNS = sql.SQL("originator_id, originator_version, topic, state, notification_id")


def history(ledger: DossierLedger, code: DossierCode) -> list[HistoryEntry]:
    """Every event of a dossier, in version order, with its position in the ledger."""
    recorder: Any = ledger.recorder
    statement = sql.SQL(
        "SELECT {} FROM {} WHERE originator_id = %s ORDER BY originator_version"
    ).format(HISTORY_COLUMNS, sql.Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as connection:
        rows = connection.execute(statement, (dossier_id(code),)).fetchall()
    return [history_entry(ledger, row) for row in rows]


class Histories:
    """Dossiers' histories for the read endpoints, on the asynchronous read pool: the
    dossiers asked at about the same time are read with one statement (application.reads)."""

    def __init__(self, reads: AsyncReads, ledger: DossierLedger) -> None:
        recorder: Any = ledger.recorder
        self.ledger = ledger
        self.reads = reads
        # Composed to bytes once: psycopg composes an SQL object again at every execution.
        self._statement = (
            sql.SQL(
                "SELECT {} FROM {} WHERE originator_id = ANY(%s)"
                " ORDER BY originator_id, originator_version"
            )
            .format(HISTORY_COLUMNS, sql.Identifier(recorder.events_table_name))
            .as_bytes(None)
        )
        self._keyed = reads.keyed(self._fetch)

    async def history(self, code: DossierCode) -> list[HistoryEntry]:
        """`history(ledger, code)`, awaited."""
        return await self._keyed.get(dossier_id(code)) or []

    async def _fetch(self, ids: list[UUID]) -> dict[UUID, list[HistoryEntry]]:
        found: dict[UUID, list[HistoryEntry]] = {}
        for row in await self.reads.fetch(self._statement, (ids,)):
            found.setdefault(row["originator_id"], []).append(history_entry(self.ledger, row))
        return found


def history_entry(ledger: DossierLedger, row: Mapping[str, Any]) -> HistoryEntry:
    stored = StoredEvent(
        row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"])
    )
    event = cast(Dossier.Event, ledger.mapper.to_domain_event(stored))
    return HistoryEntry(row["originator_version"], row["notification_id"], row["topic"], event)


def replay(entries: list[HistoryEntry]) -> Dossier | None:
    """The dossier as it stood after the given events (a prefix of its history)."""
    dossier: Dossier | None = None
    for entry in entries:
        dossier = cast(Dossier, entry.event.mutate(dossier))
    return dossier


def answer_at(
    ledger: DossierLedger, code: DossierCode, version: int
) -> tuple[Status | None, datetime | None, int]:
    """Status and due date right after `version`, and that event's position: the answer a
    sender got when the event was first appended (for `already_appended`)."""
    entries = [entry for entry in history(ledger, code) if entry.version <= version]
    dossier = replay(entries)
    assert dossier is not None and entries, "an applied event is always stored"
    return dossier.status, dossier.due_at, entries[-1].position
