"""`ledger audit check`: the events table, recomputed leaf by leaf, against the log.

Finds what was done to the events table behind the ledger's back (rows changed, deleted, inserted
or moved), naming each dossier and version, and rebuilds the tree from the events table to
compare it with every signed checkpoint (which also catches a rewrite of the log's own tables).
One pass in one REPEATABLE READ snapshot, O(log n) memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from psycopg import Connection
from psycopg.rows import DictRow
from psycopg.sql import SQL

from application.transparency.leaf import leaf_bytes
from application.transparency.log import AuditLog, AuditTables, LogStore, StoredCheckpoint
from application.transparency.merkle import append_leaves, leaf_hash, range_hash
from application.transparency.note import Checkpoint, NoteError, Verifier, open_checkpoint
from domain.code import DossierCode
from domain.dossier import dossier_id
from domain.errors import InvalidDossierCode

Progress = Callable[[int, int], None]
"""Called now and then with the rows checked and the rows to check."""

CHANGED = "the stored event differs from the one logged: it was changed in the database"
DELETED = "is in the log but no longer in the events table: it was deleted from the database"
INSERTED = (
    "is in the events table but not in the log, which is past its position:"
    " it was inserted directly into the database"
)


@dataclass(frozen=True)
class Discrepancy:
    originator_id: uuid.UUID
    version: int
    leaf_index: int | None
    problem: str
    dossier_code: str | None = None

    def __str__(self) -> str:
        dossier = self.dossier_code or f"dossier {self.originator_id}"
        leaf = "" if self.leaf_index is None else f" (leaf {self.leaf_index})"
        return f"{dossier} version {self.version}{leaf}: {self.problem}"


@dataclass(frozen=True)
class CheckReport:
    events: int
    leaves: int
    not_yet_logged: int
    checkpoints: int
    discrepancies: tuple[Discrepancy, ...] = ()
    log_problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.discrepancies and not self.log_problems

    def lines(self) -> list[str]:
        summary = (
            f"{self.events} stored events, {self.leaves} leaves, {self.checkpoints} signed"
            f" checkpoint(s); {self.not_yet_logged} events not logged yet"
        )
        if self.ok:
            return [f"OK: {summary}: every logged event is, byte for byte, the stored one"]
        problems = len(self.discrepancies) + len(self.log_problems)
        return [
            f"FAILED: {problems} problem(s) in {summary}",
            *map(str, self.discrepancies),
            *self.log_problems,
        ]


class Frontier:
    """The right edge of a tree being grown: enough to append and to compute the root."""

    def __init__(self) -> None:
        self.size = 0
        self._hashes: dict[tuple[int, int], bytes] = {}

    def get_subtree(self, level: int, index: int) -> bytes:
        return self._hashes[level, index]

    def append(self, leaf: bytes) -> None:
        completed = append_leaves(self.size, [leaf], self)
        for subtree in completed:
            self._hashes[subtree.level, subtree.index] = subtree.hash
        for merged in completed[:-1]:  # each but the last is now inside the next one
            del self._hashes[merged.level, merged.index]
            del self._hashes[merged.level, merged.index - 1]
        self.size += 1

    def root(self) -> bytes:
        return range_hash(self, 0, self.size)


@dataclass
class _Scan:
    tracked: int
    checkpoints: dict[int, Checkpoint]
    tree: Frontier = field(default_factory=Frontier)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)
    events: int = 0
    not_yet_logged: int = 0
    leaves: int = 0
    gaps: bool = False

    def row(self, row: dict[str, Any]) -> None:
        if row["notification_id"] is not None:
            self.events += 1
        if row["leaf_index"] is None:
            self._unlogged(row)
            return
        if row["leaf_index"] != self.leaves:
            self.log_problems.append(
                f"leaves {self.leaves} to {row['leaf_index'] - 1} are missing from the log"
            )
            self.gaps = True  # the tree cannot be recomputed: compare no more roots
        self.leaves = row["leaf_index"] + 1
        logged: bytes | None = row["logged_hash"]
        recomputed = logged
        if row["notification_id"] is None:
            self._found(row, DELETED)
        else:
            recomputed = leaf_hash(
                leaf_bytes(row["originator_id"], row["version"], row["topic"], row["state"])
            )
            if logged is None:
                self._found(row, "the log has no hash for this leaf")
            elif recomputed != logged:
                self._found(row, CHANGED)
            elif row["notification_id"] != row["logged_notification_id"]:
                self._found(
                    row,
                    f"was logged as notification {row['logged_notification_id']}, is now"
                    f" {row['notification_id']}: it was deleted and inserted again",
                )
        if not self.gaps:
            self.tree.append(recomputed or bytes(32))
            self._compare_checkpoint()

    def _unlogged(self, row: dict[str, Any]) -> None:
        if row["notification_id"] > self.tracked:
            self.not_yet_logged += 1
        else:
            self._found(row, INSERTED)

    def _found(self, row: dict[str, Any], problem: str) -> None:
        self.discrepancies.append(
            Discrepancy(row["originator_id"], row["version"], row["leaf_index"], problem)
        )

    def _compare_checkpoint(self) -> None:
        checkpoint = self.checkpoints.get(self.tree.size)
        if checkpoint is not None and checkpoint.root_hash != self.tree.root():
            self.log_problems.append(
                f"the checkpoint signed at tree size {checkpoint.tree_size} does not match the"
                " events table: the tree recomputed from the stored events has another root"
            )


def check_log(
    log: AuditLog,
    verifier: Verifier | None = None,
    progress: Progress | None = None,
    batch: int = 5000,
) -> CheckReport:
    """Compare every stored event with its leaf, and the signed checkpoints with the tree the
    events table gives. `verifier`: the log's key (None: the key recorded with the latest
    checkpoint, which proves less)."""
    with log.datastore.get_connection() as connection, connection.transaction():
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        store = LogStore(connection.cursor(), log.tables)
        stored = store.checkpoints()
        scan = _Scan(_tracked_position(connection, log.tables), {})
        scan.checkpoints, scan.log_problems = _open_checkpoints(stored, verifier)
        total = _row_count(connection, log.tables)
        with connection.cursor(name="audit_check") as rows:
            rows.itersize = batch
            rows.execute(_SCAN.format(**_names(log.tables)))
            for done, row in enumerate(rows, start=1):
                scan.row(row)
                if progress is not None and done % batch == 0:
                    progress(done, total)
        if progress is not None:
            progress(total, total)
        if scan.leaves < max(scan.checkpoints, default=0):
            scan.log_problems.append(
                f"the log has {scan.leaves} leaves, fewer than the checkpoint signed at"
                f" {max(scan.checkpoints)}: leaves were removed"
            )
        codes = _dossier_codes(
            connection, log.tables, {d.originator_id for d in scan.discrepancies}
        )
    return CheckReport(
        events=scan.events,
        leaves=scan.leaves,
        not_yet_logged=scan.not_yet_logged,
        checkpoints=len(stored),
        discrepancies=tuple(
            Discrepancy(
                d.originator_id, d.version, d.leaf_index, d.problem, codes.get(d.originator_id)
            )
            for d in scan.discrepancies
        ),
        log_problems=tuple(scan.log_problems),
    )


_SCAN = SQL(
    "SELECT originator_id, originator_version AS version, e.notification_id, e.topic, e.state,"
    " l.leaf_index, l.notification_id AS logged_notification_id, s.hash AS logged_hash"
    " FROM {events} AS e FULL JOIN {leaves} AS l USING (originator_id, originator_version)"
    " LEFT JOIN {subtrees} AS s ON s.level = 0 AND s.index = l.leaf_index"
    " ORDER BY l.leaf_index NULLS LAST, e.notification_id"
)


def _names(tables: AuditTables) -> dict[str, Any]:
    return {"events": tables.events, "leaves": tables.leaves, "subtrees": tables.subtrees}


def _tracked_position(connection: Connection[DictRow], tables: AuditTables) -> int:
    row = connection.execute(
        SQL("SELECT max(notification_id) AS position FROM {}").format(tables.tracking)
    ).fetchone()
    return 0 if row is None or row["position"] is None else int(row["position"])


def _row_count(connection: Connection[DictRow], tables: AuditTables) -> int:
    row = connection.execute(
        SQL(
            "SELECT (SELECT count(*) FROM {}) AS events, (SELECT count(*) FROM {}) AS leaves"
        ).format(tables.events, tables.leaves)
    ).fetchone()
    assert row is not None
    return max(int(row["events"]), int(row["leaves"]))


def _open_checkpoints(
    stored: list[StoredCheckpoint], verifier: Verifier | None
) -> tuple[dict[int, Checkpoint], list[str]]:
    if verifier is None and stored:
        verifier = Verifier.from_vkey(stored[-1].verifier_key)
    opened: dict[int, Checkpoint] = {}
    problems = []
    for row in stored:
        assert verifier is not None
        try:
            checkpoint = open_checkpoint(row.note, verifier)
        except NoteError as error:
            problems.append(f"the checkpoint stored at tree size {row.tree_size}: {error}")
            continue
        if (checkpoint.tree_size, checkpoint.root_hash) != (row.tree_size, row.root_hash):
            problems.append(
                f"the checkpoint stored at tree size {row.tree_size} says size"
                f" {checkpoint.tree_size}: its row was changed"
            )
        opened[checkpoint.tree_size] = checkpoint
    return opened, problems


def _dossier_codes(
    connection: Connection[DictRow], tables: AuditTables, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The codes of these dossiers, from the code their first events name (and only if the
    code gives back the id: a changed event may name another)."""
    rows = connection.execute(
        SQL(
            "SELECT originator_id, state FROM {} WHERE originator_id = ANY(%s)"
            " ORDER BY originator_id, originator_version"
        ).format(tables.events),
        (list(ids),),
    ).fetchall()
    codes: dict[uuid.UUID, str] = {}
    for row in rows:
        if row["originator_id"] in codes:
            continue
        code = _named_code(row["state"])
        if code is not None and dossier_id(code) == row["originator_id"]:
            codes[row["originator_id"]] = str(code)
    return codes


def _named_code(state: bytes) -> DossierCode | None:
    try:
        named = msgspec.json.decode(state)
        return DossierCode.parse(named["dossier_code"])
    except (msgspec.DecodeError, TypeError, KeyError, InvalidDossierCode):
        return None
