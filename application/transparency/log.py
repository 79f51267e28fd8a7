"""The transparency log in PostgreSQL: its leaves, its stored subtree hashes, its checkpoints.

Tables, named after the read model that appends the leaves (`audit_log`, or a rebuild's name):

    {name}_leaves          leaf_index -> the event it logs: (originator_id, originator_version)
                           and notification_id. Every row of the events table, in notification
                           order, leaf indexes 0, 1, 2, ... without gaps.
    {name}_subtrees        (level, index) -> the hash of that complete perfect subtree
                           (application.transparency.merkle); level 0 holds the leaf hashes.
    audit_log_checkpoints  tree_size -> root hash, the signed note, the verifier key that signed
                           it. Not renamed by a rebuild: signed checkpoints are evidence that a
                           rebuilt tree must stay consistent with.
    audit_log_cosignatures (tree_size, witness verifier key) -> the witness's cosignature line
                           of that checkpoint and its timestamp (not renamed either).
    audit_log_alarms       what went wrong with the log that people must look at: a witness
                           refused a checkpoint signed with the log's key (a fork), and so on.

A `LogStore` runs the SQL on one cursor, so a caller chooses the transaction: the audit log
projection appends a page of events in the page's transaction, with its tracking position.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from application.database import EVENTS_TABLE
from application.transparency.bundle import RecordedEvent
from application.transparency.leaf import leaf_bytes
from application.transparency.merkle import (
    MemoryHashStore,
    Subtree,
    append_leaves,
    consistency_proof_ranges,
    inclusion_proof_ranges,
    leaf_hash,
    range_hash,
    subtrees_of_proof,
    subtrees_of_range,
)

UPPER_LEVELS = 8
"""Subtrees of this level and above (one per 256 leaves and fewer) are also kept in a small
covering index: a proof reads one per level of the tree, and in a large log each of the upper
ones would otherwise cost a heap page of its own, cold (they were stored far apart in time). The
lower ones of a proof were stored together, a few heap pages for all of them."""

UPPER_LEVELS_CONDITION = SQL("level >= {}").format(Literal(UPPER_LEVELS))

CHECKPOINTS_TABLE = "audit_log_checkpoints"
COSIGNATURES_TABLE = "audit_log_cosignatures"
ALARMS_TABLE = "audit_log_alarms"


@dataclass(frozen=True)
class AuditTables:
    schema: str
    name: str

    def _table(self, table: str) -> Composed:
        return SQL("{}.{}").format(Identifier(self.schema), Identifier(table))

    @property
    def leaves_name(self) -> str:
        return f"{self.name}_leaves"

    @property
    def subtrees_name(self) -> str:
        return f"{self.name}_subtrees"

    @property
    def tracking(self) -> Composed:
        return self._table(f"{self.name}_tracking")

    @property
    def leaves(self) -> Composed:
        return self._table(self.leaves_name)

    @property
    def subtrees(self) -> Composed:
        return self._table(self.subtrees_name)

    @property
    def upper_subtrees_index(self) -> str:
        return f"{self.name}_subtrees_upper"

    @property
    def checkpoints(self) -> Composed:
        return self._table(CHECKPOINTS_TABLE)

    @property
    def cosignatures(self) -> Composed:
        return self._table(COSIGNATURES_TABLE)

    @property
    def alarms(self) -> Composed:
        return self._table(ALARMS_TABLE)

    @property
    def events(self) -> Composed:
        return self._table(EVENTS_TABLE)

    def create_statements(self) -> list[Composed]:
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (leaf_index bigint PRIMARY KEY,"
                " originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
                " notification_id bigint NOT NULL UNIQUE,"
                " UNIQUE (originator_id, originator_version))"
            ).format(self.leaves),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (level smallint NOT NULL, index bigint NOT NULL,"
                " hash bytea NOT NULL, PRIMARY KEY (level, index))"
            ).format(self.subtrees),
            SQL(
                "CREATE INDEX IF NOT EXISTS {} ON {} (level, index) INCLUDE (hash) WHERE {}"
            ).format(Identifier(self.upper_subtrees_index), self.subtrees, UPPER_LEVELS_CONDITION),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (tree_size bigint PRIMARY KEY,"
                " root_hash bytea NOT NULL, note text NOT NULL, verifier_key text NOT NULL,"
                " signed_at timestamptz NOT NULL DEFAULT now())"
            ).format(self.checkpoints),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (tree_size bigint NOT NULL, witness text NOT NULL,"
                " line text NOT NULL, timestamp bigint NOT NULL,"
                " received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tree_size, witness))"
            ).format(self.cosignatures),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY,"
                " raised_at timestamptz NOT NULL DEFAULT now(), kind text NOT NULL,"
                " tree_size bigint, reason text NOT NULL, acknowledged_at timestamptz)"
            ).format(self.alarms),
        ]


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as kept in the database: the note is what verifiers check."""

    tree_size: int
    root_hash: bytes
    note: str
    verifier_key: str
    signed_at: datetime | None = None


@dataclass(frozen=True)
class Alarm:
    """Something wrong with the log that an operator must look at, until acknowledged."""

    id: int
    raised_at: datetime
    kind: str
    tree_size: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}"


@dataclass(frozen=True)
class LoggedEvent:
    """A row of the events table and its leaf index (None: not logged yet)."""

    version: int
    topic: str
    state: bytes
    leaf_index: int | None

    def recorded(self) -> RecordedEvent:
        assert self.leaf_index is not None, "only logged events have a leaf index"
        return RecordedEvent(self.version, self.topic, self.state, self.leaf_index)


class LogStore:
    """The log's SQL, on one cursor (one transaction)."""

    def __init__(self, cursor: Cursor[DictRow], tables: AuditTables) -> None:
        self.cursor = cursor
        self.tables = tables

    def tree_size(self) -> int:
        query = SQL("SELECT coalesce(max(leaf_index) + 1, 0) AS size FROM {}")
        row = self.cursor.execute(query.format(self.tables.leaves)).fetchone()
        assert row is not None
        size: int = row["size"]
        return size

    def append_stored_events(self, after: int, until: int) -> int:
        """Log the rows of the events table with notification ids in (after, until], exactly as
        stored, after the current leaves. Returns how many leaves were appended.

        Every row up to `until` is committed already (rows commit in notification order), so
        the rows hashed and the rows indexed, by two statements, are the same rows.
        """
        with self.cursor.connection.cursor(row_factory=tuple_row) as rows_cursor:
            rows = rows_cursor.execute(
                SQL(
                    "SELECT originator_id, originator_version, topic, state"
                    " FROM {} WHERE notification_id > %s AND notification_id <= %s"
                    " ORDER BY notification_id"
                ).format(self.tables.events),
                (after, until),
            ).fetchall()
        if not rows:
            return 0
        size = self.tree_size()
        hashes = [leaf_hash(leaf_bytes(*row)) for row in rows]
        subtrees = append_leaves(size, hashes, self.hash_store(subtrees_of_range(0, size)))
        self.cursor.execute(
            SQL(
                "INSERT INTO {} (leaf_index, originator_id, originator_version, notification_id)"
                " SELECT %s + row_number() OVER (ORDER BY notification_id) - 1, originator_id,"
                " originator_version, notification_id FROM {}"
                " WHERE notification_id > %s AND notification_id <= %s"
            ).format(self.tables.leaves, self.tables.events),
            (size, after, until),
        )
        if self.cursor.rowcount != len(rows):
            raise RuntimeError(f"rows ({after}, {until}] changed while they were being logged")
        self._insert_subtrees(subtrees)
        return len(rows)

    def _insert_subtrees(self, subtrees: Sequence[Subtree]) -> None:
        """With binary COPY: psycopg formats its rows in C (an `unnest` of three arrays dumped
        every item in Python, a third of a page's CPU)."""
        statement = SQL("COPY {} (level, index, hash) FROM STDIN (FORMAT BINARY)")
        with self.cursor.copy(statement.format(self.tables.subtrees)) as copy:
            copy.set_types(["smallint", "bigint", "bytea"])
            for subtree in subtrees:
                copy.write_row((subtree.level, subtree.index, subtree.hash))

    def hash_store(self, subtrees: Iterable[tuple[int, int]]) -> MemoryHashStore:
        """The stored subtrees asked for, fetched in one query: the upper levels from their
        covering index (a condition on the level lets the planner use it)."""
        wanted = sorted(set(subtrees))
        if not wanted:
            return MemoryHashStore()
        lower = [subtree for subtree in wanted if subtree[0] < UPPER_LEVELS]
        upper = wanted[len(lower) :]
        rows = self.cursor.execute(
            SQL(
                "SELECT level, index, hash FROM {subtrees}"
                " JOIN unnest(%b::smallint[], %b::bigint[]) AS wanted(level, index)"
                " USING (level, index) WHERE NOT ({upper})"
                " UNION ALL SELECT level, index, hash FROM {subtrees}"
                " JOIN unnest(%b::smallint[], %b::bigint[]) AS wanted(level, index)"
                " USING (level, index) WHERE {upper}"
            ).format(subtrees=self.tables.subtrees, upper=UPPER_LEVELS_CONDITION),
            (
                [level for level, _ in lower],
                [index for _, index in lower],
                [level for level, _ in upper],
                [index for _, index in upper],
            ),
        ).fetchall()
        return MemoryHashStore(Subtree(row["level"], row["index"], row["hash"]) for row in rows)

    def root_hash(self, tree_size: int) -> bytes:
        return range_hash(self.hash_store(subtrees_of_range(0, tree_size)), 0, tree_size)

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> tuple[bytes, list[bytes]]:
        """The logged leaf hash and its inclusion proof in the tree of tree_size leaves."""
        ranges = inclusion_proof_ranges(leaf_index, tree_size)
        store = self.hash_store({(0, leaf_index)} | subtrees_of_proof(ranges))
        return store.get_subtree(0, leaf_index), [range_hash(store, *r) for r in ranges]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        ranges = consistency_proof_ranges(old_size, new_size)
        store = self.hash_store(subtrees_of_proof(ranges))
        return [range_hash(store, *r) for r in ranges]

    def dossier_events(self, originator_id: UUID) -> list[LoggedEvent]:
        """The dossier's rows of the events table, as stored, in version order, with their leaf
        index when they are logged."""
        rows = self.cursor.execute(
            SQL(
                "SELECT e.originator_version AS version, e.topic, e.state, l.leaf_index"
                " FROM {} AS e LEFT JOIN {} AS l USING (originator_id, originator_version)"
                " WHERE e.originator_id = %s ORDER BY e.originator_version"
            ).format(self.tables.events, self.tables.leaves),
            (originator_id,),
        ).fetchall()
        return [
            LoggedEvent(row["version"], row["topic"], bytes(row["state"]), row["leaf_index"])
            for row in rows
        ]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self._checkpoints(SQL("ORDER BY tree_size DESC LIMIT 1"), ())
        return rows[0] if rows else None

    def checkpoint(self, tree_size: int) -> StoredCheckpoint | None:
        rows = self._checkpoints(SQL("WHERE tree_size = %s"), (tree_size,))
        return rows[0] if rows else None

    def checkpoints(self) -> list[StoredCheckpoint]:
        return self._checkpoints(SQL("ORDER BY tree_size"), ())

    def _checkpoints(self, clause: SQL, params: tuple[int, ...]) -> list[StoredCheckpoint]:
        query = SQL("SELECT tree_size, root_hash, note, verifier_key, signed_at FROM {} {}").format(
            self.tables.checkpoints, clause
        )
        return [StoredCheckpoint(**row) for row in self.cursor.execute(query, params).fetchall()]

    def add_checkpoint(
        self, tree_size: int, root_hash: bytes, note: str, verifier_key: str
    ) -> StoredCheckpoint:
        row = self.cursor.execute(
            SQL(
                "INSERT INTO {} (tree_size, root_hash, note, verifier_key) VALUES (%s, %s, %s, %s)"
                " RETURNING tree_size, root_hash, note, verifier_key, signed_at"
            ).format(self.tables.checkpoints),
            (tree_size, root_hash, note, verifier_key),
        ).fetchone()
        assert row is not None
        return StoredCheckpoint(**row)

    def checkpoints_page(self, after: int, limit: int) -> list[StoredCheckpoint]:
        """Up to `limit` checkpoints of tree sizes above `after`, smallest first."""
        return self._checkpoints(
            SQL("WHERE tree_size > %s ORDER BY tree_size LIMIT %s"), (after, limit)
        )

    def hash_tile(self, level: int, first: int, width: int) -> bytes | None:
        """The stored subtree hashes of `level`, indexes first to first + width - 1, joined;
        None unless the latest signed checkpoint holds them all."""
        row = self.cursor.execute(
            SQL(
                "SELECT string_agg(hash, ''::bytea ORDER BY index) AS hashes, count(*) AS count"
                " FROM {} WHERE level = %s AND index >= %s AND index < %s"
                " AND (SELECT max(tree_size) FROM {}) >= %s"
            ).format(self.tables.subtrees, self.tables.checkpoints),
            (level, first, first + width, (first + width) << level),
            prepare=True,
        ).fetchone()
        if row is None or row["count"] != width:
            return None
        hashes: bytes = row["hashes"]
        return hashes

    def leaf_entries(self, first: int, count: int) -> list[bytes] | None:
        """The leaves first to first + count - 1 as logged, from the events table; None unless
        the latest signed checkpoint holds them all. Raises LookupError if a logged event is
        no longer in the events table as logged. Joined by notification id: consecutive leaves
        are consecutive rows of the events table, on a few pages."""
        rows = self.cursor.execute(
            SQL(
                "SELECT l.leaf_index, l.originator_id, l.originator_version, e.topic, e.state"
                " FROM {} AS l LEFT JOIN {} AS e ON e.notification_id = l.notification_id"
                " AND e.originator_id = l.originator_id"
                " AND e.originator_version = l.originator_version"
                " WHERE l.leaf_index >= %s AND l.leaf_index < %s"
                " AND (SELECT max(tree_size) FROM {}) >= %s ORDER BY l.leaf_index"
            ).format(self.tables.leaves, self.tables.events, self.tables.checkpoints),
            (first, first + count, first + count),
            prepare=True,
        ).fetchall()
        if len(rows) != count:
            return None
        entries = []
        for row in rows:
            if row["state"] is None:
                raise LookupError(f"the event of leaf {row['leaf_index']} is missing")
            entries.append(
                leaf_bytes(
                    row["originator_id"], row["originator_version"], row["topic"], row["state"]
                )
            )
        return entries

    def add_cosignature(self, tree_size: int, witness: str, line: str, timestamp: int) -> None:
        self.cursor.execute(
            SQL(
                "INSERT INTO {} (tree_size, witness, line, timestamp) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tree_size, witness) DO NOTHING"
            ).format(self.tables.cosignatures),
            (tree_size, witness, line, timestamp),
        )

    def cosignature_lines(self, tree_size: int) -> list[str]:
        rows = self.cursor.execute(
            SQL("SELECT line FROM {} WHERE tree_size = %s ORDER BY witness").format(
                self.tables.cosignatures
            ),
            (tree_size,),
        ).fetchall()
        return [row["line"] for row in rows]

    def witnessed_size(self, witness: str) -> int | None:
        """The largest checkpoint `witness` (its verifier key) cosigned, as far as we know."""
        row = self.cursor.execute(
            SQL("SELECT max(tree_size) AS size FROM {} WHERE witness = %s").format(
                self.tables.cosignatures
            ),
            (witness,),
        ).fetchone()
        return None if row is None else row["size"]

    def add_alarm(self, kind: str, tree_size: int | None, reason: str) -> None:
        self.cursor.execute(
            SQL("INSERT INTO {} (kind, tree_size, reason) VALUES (%s, %s, %s)").format(
                self.tables.alarms
            ),
            (kind, tree_size, reason),
        )

    def open_alarms(self) -> list[Alarm]:
        rows = self.cursor.execute(
            SQL(
                "SELECT id, raised_at, kind, tree_size, reason FROM {}"
                " WHERE acknowledged_at IS NULL ORDER BY id"
            ).format(self.tables.alarms)
        ).fetchall()
        return [Alarm(**row) for row in rows]

    def acknowledge_alarms(self) -> int:
        self.cursor.execute(
            SQL("UPDATE {} SET acknowledged_at = now() WHERE acknowledged_at IS NULL").format(
                self.tables.alarms
            )
        )
        return self.cursor.rowcount

    def lock_checkpoints(self) -> None:
        """Until the transaction ends, no other checkpointer reads the last checkpoint or adds
        one (two signers racing could each check a different predecessor)."""
        self.cursor.execute("SELECT pg_advisory_xact_lock(hashtext('audit_log_checkpoints'))")


class AuditLog:
    """The log's tables in one database, read and written through `LogStore` transactions."""

    def __init__(self, datastore: PostgresDatastore, tables: AuditTables) -> None:
        self.datastore = datastore
        self.tables = tables

    @contextmanager
    def reading(self) -> Iterator[LogStore]:
        with self.datastore.transaction(commit=False) as cursor:
            yield LogStore(cursor, self.tables)

    @contextmanager
    def writing(self) -> Iterator[LogStore]:
        with self.datastore.transaction(commit=True) as cursor:
            yield LogStore(cursor, self.tables)
