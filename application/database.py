"""Where the ledger's PostgreSQL comes from, and the schema rules the database itself enforces.

The events table is append-only in PostgreSQL: a trigger refuses UPDATE, DELETE and TRUNCATE for
every role (a superuser can drop the trigger; the transparency log catches that), and the
application works as a role that may only INSERT and SELECT it.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

EVENTS_TABLE = "ledger_events"
APPEND_FUNCTION = "ledger_append_events"

_log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached or started."""


@dataclass(frozen=True)
class ConnectionParams:
    """The parts of a PostgreSQL URL that eventsourcing's POSTGRES_* settings take."""

    host: str
    port: str
    dbname: str
    user: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> ConnectionParams:
        parts: dict[str, Any] = conninfo_to_dict(url)
        return cls(
            host=str(parts.get("host") or "localhost"),
            port=str(parts.get("port") or "5432"),
            dbname=str(parts.get("dbname") or parts.get("user") or "postgres"),
            user=str(parts.get("user") or "postgres"),
            password=str(parts.get("password") or ""),
        )

    def url(self, dbname: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            dbname=dbname or self.dbname,
            user=self.user,
            password=self.password,
        )


def start_embedded_server(data_dir: Path) -> str:
    """Start (or join) the private PostgreSQL in `data_dir` and return its URL.

    The process that owns the data directory supervises the server (restarts it when it dies)
    and stops it when it exits; other processes use it and take over when the owner goes
    (application/embedded.py).
    """
    from application.embedded import EmbeddedPostgres, EmbeddedStartFailed  # noqa: PLC0415

    try:
        return EmbeddedPostgres.for_data_dir(data_dir).url()
    except (EmbeddedStartFailed, OSError, subprocess.CalledProcessError) as error:
        msg = f"could not start the embedded PostgreSQL in {data_dir}: {error}"
        raise DatabaseUnavailable(msg) from error


@contextlib.contextmanager
def admin_connection(url: str) -> Iterator[psycopg.Connection[Any]]:
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        msg = f"could not connect to PostgreSQL: {error}"
        raise DatabaseUnavailable(msg) from error
    with connection:
        yield connection


def create_app_role(url: str, app_role: str) -> None:
    """The role the application acts as (SET ROLE at connect); the migrating role is a member."""
    with admin_connection(url) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (app_role,)
        ).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                connection.execute(
                    sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(app_role))
                )
        connection.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(app_role)))


APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION {schema}.ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the events table is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS ledger_events_append_only ON {schema}.{table};
CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE ON {schema}.{table}
    FOR EACH ROW EXECUTE FUNCTION {schema}.ledger_refuse_change();
DROP TRIGGER IF EXISTS ledger_events_no_truncate ON {schema}.{table};
CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON {schema}.{table}
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.ledger_refuse_change();

-- Appending takes the table lock that orders commits like notification ids. LOCK TABLE in
-- EXCLUSIVE MODE needs UPDATE/DELETE/TRUNCATE privileges, which the application role must not
-- have, so the owner lends it, inside the append function, and nothing else.
DROP FUNCTION IF EXISTS {schema}.ledger_lock_events();

-- One statement appends a group of events: the lock, the notification to projectors and the
-- insert, and (called outside a transaction) the commit, in one round trip to the server. It
-- can do nothing an INSERT by the application role could not; the trigger above still applies.
CREATE OR REPLACE FUNCTION {schema}.{append_function}(
    ids uuid[], versions bigint[], topics text[], states bytea[]
) RETURNS TABLE (notification_id bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET lock_timeout = '30s' AS $$
BEGIN
    LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;
    NOTIFY {channel};
    RETURN QUERY
        INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(ids, versions, topics, states)
        RETURNING t.notification_id;
END;
$$;
REVOKE ALL ON FUNCTION {schema}.{append_function}(uuid[], bigint[], text[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {schema}.{append_function}(uuid[], bigint[], text[], bytea[]) TO {role};

REVOKE ALL ON {schema}.{table} FROM PUBLIC;
REVOKE ALL ON {schema}.{table} FROM {role};
GRANT SELECT, INSERT ON {schema}.{table} TO {role};
GRANT USAGE ON SEQUENCE {schema}.{sequence} TO {role};
GRANT USAGE, CREATE ON SCHEMA {schema} TO {role};
"""


def make_events_append_only(url: str, app_role: str, schema: str = "public") -> None:
    statement = sql.SQL(APPEND_ONLY_SQL).format(
        schema=sql.Identifier(schema),
        table=sql.Identifier(EVENTS_TABLE),
        sequence=sql.Identifier(f"{EVENTS_TABLE}_notification_id_seq"),
        append_function=sql.Identifier(APPEND_FUNCTION),
        channel=sql.Identifier(EVENTS_TABLE),
        role=sql.Identifier(app_role),
    )
    with admin_connection(url) as connection, connection.transaction():
        connection.execute(statement)
