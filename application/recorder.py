"""The events recorder: eventsourcing's PostgreSQL recorder, appending without pipeline mode.

psycopg's pipeline mode, which the library uses for inserts, hangs on large batches (NOTES.md,
psycopg#685), and the group-commit writer sends thousands of events per transaction. This recorder
appends them with one INSERT of four arrays instead, under the same table lock, taken through the
owner's lock function because the application role may not lock the table itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import sql

from application.database import LOCK_FUNCTION


class LedgerRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = sql.Identifier(self.datastore.schema)
        self.lock_table_statements = [
            sql.SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout),
            sql.SQL("SELECT {0}.{1}()").format(schema, sql.Identifier(LOCK_FUNCTION)),
        ]
        self.append_statement = sql.SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(schema=schema, table=sql.Identifier(self.events_table_name))

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        with (
            self.datastore.get_connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            self._insert_events(cursor, stored_events, **kwargs)
            self._lock_table(cursor)
            self._notify_channel(cursor)
            cursor.execute(
                self.append_statement,
                (
                    [event.originator_id for event in stored_events],
                    [event.originator_version for event in stored_events],
                    [event.topic for event in stored_events],
                    [event.state for event in stored_events],
                ),
                prepare=True,
            )
            return [row["notification_id"] for row in cursor.fetchall()]
