"""The events recorder: eventsourcing's PostgreSQL recorder, appending in one statement.

psycopg's pipeline mode, which the library uses for inserts, hangs on large batches
(psycopg#685), and the group-commit writer sends thousands of events per transaction. This recorder
appends them with one call of the owner's append function (application/database.py), which takes
the table lock, notifies the projectors and inserts four arrays: one statement, and one round
trip with its commit when the connection is in autocommit mode, as the library's connections are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import AsyncConnection, Connection, sql
from psycopg.rows import tuple_row

from application.database import APPEND_FUNCTION


class LedgerRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.append_statement = sql.SQL(
            "SELECT notification_id FROM {schema}.{function}"
            "(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(
            schema=sql.Identifier(self.datastore.schema), function=sql.Identifier(APPEND_FUNCTION)
        )
        self.page_statement = sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(sql.Identifier(self.datastore.schema), sql.Identifier(self.events_table_name))
        self.page_ids_statement = sql.SQL(
            "SELECT notification_id FROM {}.{} WHERE notification_id > %s"
            " ORDER BY notification_id LIMIT %s"
        ).format(sql.Identifier(self.datastore.schema), sql.Identifier(self.events_table_name))

    def select_page_rows(self, after: int, limit: int) -> list[tuple[int, UUID, int, str, bytes]]:
        """Up to `limit` notifications after id `after`, in id order, as (id, originator id,
        version, topic, state) tuples: one prepared statement (eventsourcing's
        `select_notifications` composes its statement on every call and builds a dict and a
        Notification per row)."""
        with (
            self.datastore.get_connection() as connection,
            connection.cursor(row_factory=tuple_row) as cursor,
        ):
            cursor.execute(self.page_statement, (after, limit), prepare=True)
            return cursor.fetchall()

    def select_page_ids(self, after: int, limit: int) -> list[int]:
        """The ids of `select_page_rows`'s notifications, without their events."""
        with (
            self.datastore.get_connection() as connection,
            connection.cursor(row_factory=tuple_row) as cursor,
        ):
            cursor.execute(self.page_ids_statement, (after, limit), prepare=True)
            return [row[0] for row in cursor.fetchall()]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.datastore.get_connection() as connection:
            return self.append(connection, stored_events)

    def append(
        self, connection: Connection[Any], stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        """Append in one statement (its own transaction on an autocommit connection).

        Returns the notification ids, in the order of `stored_events`. A version already taken
        raises psycopg's UniqueViolation and appends nothing.
        """
        with connection.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(self.append_statement, _arrays(stored_events), prepare=True)
            return [row[0] for row in cursor.fetchall()]

    async def append_async(
        self, connection: AsyncConnection[Any], stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        """`append` on an asynchronous connection."""
        async with connection.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute(self.append_statement, _arrays(stored_events), prepare=True)
            return [row[0] for row in await cursor.fetchall()]


def _arrays(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
    """The append function's four arguments."""
    return (
        [event.originator_id for event in stored_events],
        [event.originator_version for event in stored_events],
        [event.topic for event in stored_events],
        [event.state for event in stored_events],
    )
