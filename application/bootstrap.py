"""The composition root of persistence: find PostgreSQL, migrate it, open the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from application.database import (
    admin_connection,
    create_app_role,
    make_events_append_only,
    start_embedded_server,
)
from application.ledger import DossierLedger, persistence_env
from application.settings import Settings

MIGRATION_LOCK = 7_401_190_318  # an advisory lock key of the ledger's own


@dataclass(frozen=True)
class Database:
    """A migrated database: the URL to reach it and the role the application acts as."""

    url: str
    app_role: str
    timeout: float = 2.0  # the longest wait for a connection

    def ledger_env(
        self, pool_size: int = 10, *, idle_in_transaction_timeout: int = 5
    ) -> dict[str, str]:
        return persistence_env(
            self.url,
            app_role=self.app_role,
            create_table=False,
            pool_size=pool_size,
            timeout=self.timeout,
            idle_in_transaction_timeout=idle_in_transaction_timeout,
        )


def database_url(settings: Settings) -> str:
    """LEDGER_DATABASE_URL, or the embedded server's URL (started on demand)."""
    if settings.database_url is not None:
        return settings.database_url
    return start_embedded_server(settings.embedded_data_dir)


def migrate(url: str, app_role: str) -> Database:
    """Create the events table and its rules, as the URL's role. Safe to run at every start,
    and from many processes at once (API replicas, workers): they take turns."""
    with schema_lock(url):
        create_app_role(url, app_role)
        owner = DossierLedger(persistence_env(url, app_role=None, create_table=True, pool_size=1))
        owner.close()
        make_events_append_only(url, app_role)
    return Database(url=url, app_role=app_role)


@contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Hold the ledger's schema lock: processes that create tables at start take turns (two
    CREATE TABLE IF NOT EXISTS of one table at once can still collide in PostgreSQL)."""
    with admin_connection(url) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        yield


def prepare_database(settings: Settings) -> Database:
    database = migrate(database_url(settings), settings.app_role)
    return replace(database, timeout=settings.database_timeout)


def open_ledger(database: Database, pool_size: int = 10) -> DossierLedger:
    return DossierLedger(database.ledger_env(pool_size))
