"""Rebuilding a read model from zero into new tables, then swapping them in atomically.

`rebuild(database, rules, name)`:

1. drops whatever an interrupted rebuild left (`{name}__rebuild…` tables) and creates new,
   empty tables under that name;
2. projects every event into them with a runner of their own, while the live tables keep
   serving reads and their projector keeps running;
3. in ONE transaction, holding the read model's advisory lock: drops the live tables and renames
   the new tables, and their indexes, to the live names.

Why a projector running meanwhile (in this process or another) cannot corrupt the swapped
tables: every page transaction of a projector takes that same advisory lock first
(projections.view), so no page is half-written when the swap happens and none starts during it.
The next page reads the tracked position from the swapped-in tracking table; it is not the
position the page was read after, so the page is stale, nothing is written, and the projector
reads again from the rebuilt position. (Holding the projector off, or stopping it, would need a
signal to another process; the lock and the position check need none.)

Readers see the old tables until the swap commits and the new ones after; during the swap
(milliseconds: renames and drops) their queries wait for its table locks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from application.bootstrap import Database, open_ledger
from domain.commands import Rules
from projections.names import DEFAULT_PAGE_SIZE
from projections.registry import READ_MODELS, open_read_model_view
from projections.runner import ProjectionRunner
from projections.view import TRACKING_SUFFIX, PagedView, advisory_lock_key

REBUILD_SUFFIX = "__rebuild"

Progress = Callable[[int, int], None]
"""Called after each page with the rebuilt position and the position to reach."""


class RebuildInProgressError(RuntimeError):
    """Another rebuild of the same read model holds its rebuild lock."""


@dataclass(frozen=True)
class Rebuilt:
    name: str
    position: int
    events: int


def rebuild(
    database: Database,
    rules: Rules,
    name: str,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: Progress | None = None,
    freeze_after_page: bool = False,
) -> Rebuilt:
    """Rebuild read model `name` (see the module docstring); the position it was swapped in at.
    `freeze_after_page`: see ProjectionRunner (`ledger rebuild`, a process of its own)."""
    live = open_read_model_view(database, name)
    rebuild_lock = advisory_lock_key(f"rebuild:{name}")
    try:
        with live.datastore.get_connection() as guard:
            taken = guard.execute("SELECT pg_try_advisory_lock(%s) AS taken", (rebuild_lock,))
            if not taken.fetchall()[0]["taken"]:
                raise RebuildInProgressError(f"a rebuild of {name} is already running")
            try:
                return _rebuild_and_swap(
                    database,
                    rules,
                    live,
                    page_size=page_size,
                    progress=progress,
                    freeze_after_page=freeze_after_page,
                )
            finally:
                guard.execute("SELECT pg_advisory_unlock(%s)", (rebuild_lock,))
    finally:
        live.datastore.close()


def _rebuild_and_swap(
    database: Database,
    rules: Rules,
    live: PagedView,
    *,
    page_size: int,
    progress: Progress | None,
    freeze_after_page: bool,
) -> Rebuilt:
    name = live.base_name
    fresh_name = name + REBUILD_SUFFIX
    leftover = READ_MODELS[name].view_class(
        datastore=live.datastore, tracking_table_name=fresh_name + TRACKING_SUFFIX
    )
    with live.datastore.transaction(commit=True) as cursor:
        _drop(cursor, leftover)
    fresh = open_read_model_view(database, name, tables=fresh_name)
    ledger = open_ledger(database, pool_size=1)
    try:
        runner = ProjectionRunner(
            [READ_MODELS[name].projection_class(fresh, rules.calendar)],
            ledger,
            page_size=page_size,
            freeze_after_page=freeze_after_page,
        )
        for _pass in range(2):  # the second pass takes what was appended during the first
            head = ledger.recorder.max_notification_id() or 0
            report = None if progress is None else _reporter(progress, head)
            runner.catch_up(head, report)
        _swap(live, fresh)
        return Rebuilt(name, runner.position(), runner.events_applied)
    finally:
        ledger.close()
        fresh.datastore.close()


def _reporter(progress: Progress, head: int) -> Callable[[int], None]:
    return lambda position: progress(position, head)


def _drop(cursor: Cursor[DictRow], view: PagedView) -> None:
    for table in view.table_names:
        cursor.execute(SQL("DROP TABLE IF EXISTS {}").format(view.qualified(table)))


def _swap(live: PagedView, fresh: PagedView) -> None:
    """Drop the live tables, give the fresh ones (and their indexes) the live names: at once."""
    schema = live.datastore.schema
    with live.datastore.transaction(commit=True) as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (live.lock_key,))
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (fresh.lock_key,))
        _drop(cursor, live)
        for fresh_table, live_table in zip(fresh.table_names, live.table_names, strict=True):
            indexes = cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                (schema, fresh_table),
            ).fetchall()
            for index in indexes:
                old = index["indexname"]
                if old.startswith(fresh.base_name):
                    new = live.base_name + old.removeprefix(fresh.base_name)
                    cursor.execute(
                        SQL("ALTER INDEX {}.{} RENAME TO {}").format(
                            Identifier(schema), Identifier(old), Identifier(new)
                        )
                    )
            cursor.execute(
                SQL("ALTER TABLE {} RENAME TO {}").format(
                    fresh.qualified(fresh_table), Identifier(live_table)
                )
            )
