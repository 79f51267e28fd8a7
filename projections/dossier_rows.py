"""Per-dossier rows that turn back into Dossier aggregates.

A page of events is applied to a read model by the domain's own event classes
(`Dossier.Event.mutate`), not by rules written a second time: the rows a page touches are loaded
once, restored as Dossier objects, advanced event by event in Python, and written back with one
COPY and one upsert (`CopyUpsert`). A row keeps the columns its read model shows plus what
applying later events needs (the status, the supplement count); attributes it does not keep stay
None in the restored Dossier, and none follows the steps (`Dossier.follows_steps`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier

from domain.calendar import WorkCalendar
from domain.code import DossierCode
from domain.commands import Channel, Outcome
from domain.dossier import Dossier
from domain.status import Status
from projections.view import PagedView


def _same(value: Any) -> Any:
    return value


RESTORED_ATTRIBUTES: Mapping[str, Callable[[Any], Any]] = {
    "status": Status,
    "procedure_code": _same,
    "procedure_name": _same,
    "channel": Channel,
    "lookup_secret_digest": _same,
    "submitted_at": _same,
    "received_at": _same,
    "due_at": _same,
    "original_due_at": _same,
    "paused_at": _same,
    "resolved_at": _same,
    "returned_at": _same,
    "finished_at": _same,
    "outcome": Outcome,
    "electronic_result": _same,
    "supplement_requests": _same,
    "extensions": _same,
    "extended_after_due": _same,
    "result_document": _same,
}
"""Dossier attributes a row may keep under the same name, with the type to restore them to."""


class ProjectionGapError(RuntimeError):
    """An event does not continue its dossier's row: an event was lost or applied twice."""


def restore(row: Mapping[str, Any]) -> Dossier:
    """The Dossier a row describes: its code, id, version and `updated_at` (the last event's
    timestamp), and the attributes of RESTORED_ATTRIBUTES the row has."""
    code = DossierCode.parse(row["code"])
    dossier = Dossier.shell(code, row["id"], row["updated_at"], follows_steps=False)
    dossier.version = row["version"]
    for name, restore_type in RESTORED_ATTRIBUTES.items():
        value = row.get(name)
        if value is not None:
            setattr(dossier, name, restore_type(value))
    return dossier


def advance(dossier: Dossier | None, event: Dossier.Event) -> Dossier:
    """The dossier after `event`, which must be its next version (1 when there is no row yet)."""
    version = 0 if dossier is None else dossier.version
    if event.originator_version != version + 1:
        raise ProjectionGapError(
            f"event {type(event).__name__} of dossier {event.originator_id} is version "
            f"{event.originator_version}, but the read model has it at version {version}"
        )
    if dossier is None and isinstance(event, Dossier.Opening):
        # The rows keep no steps (the steps read model follows them): nor does their Dossier.
        code = DossierCode.parse(event.dossier_code)
        dossier = Dossier.shell(code, event.originator_id, event.timestamp, follows_steps=False)
    elif dossier is None:
        return cast(Dossier, event.mutate(dossier))  # refused as eventsourcing refuses it
    # What `event.mutate` does, without checking again what is checked here: the version
    # (above) and the dossier's id (the rows are found by the events' originator ids).
    event.apply(dossier)
    dossier.version = event.originator_version
    dossier.modified_on = event.timestamp
    return dossier


def stored_ids(events: Sequence[Dossier.Event]) -> list[UUID]:
    """The dossiers of `events` that may have a row already: not those the page opens (their
    first event in it is their first)."""
    seen: dict[UUID, bool] = {}
    for event in events:
        if event.originator_id not in seen:
            seen[event.originator_id] = event.originator_version > 1
    return [key for key, stored in seen.items() if stored]


@dataclass(frozen=True)
class Column:
    """A column of a per-dossier table: its SQL type and how to read its value off a Dossier
    (some values, such as a timeliness class, need the work calendar)."""

    name: str
    sql_type: str
    value: Callable[[Dossier, WorkCalendar], object]
    constraint: str = ""
    source: str | None = None
    """The Dossier attribute the value is, when it is one (`column_rows` reads those at once)."""


def attribute(name: str, sql_type: str, constraint: str = "", *, source: str = "") -> Column:
    """A column holding the Dossier attribute `source` (by default, of the same name)."""
    source = source or name
    read = attrgetter(source)
    return Column(name, sql_type, lambda dossier, _calendar: read(dossier), constraint, source)


def create_table_statement(table: Composed, columns: Sequence[Column]) -> Composed:
    definitions = SQL(", ").join(
        SQL("{} {} {}").format(Identifier(c.name), SQL(c.sql_type), SQL(c.constraint))
        for c in columns
    )
    return SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(table, definitions)


def select_by_ids_statement(table: Composed) -> Composed:
    return SQL("SELECT * FROM {} WHERE id = ANY(%s)").format(table)


class CopyUpsert:
    """Many rows written into `table` at once, replacing the rows whose id exists: COPY (binary)
    into a temporary table of the same shape, then one INSERT … ON CONFLICT from it.

    COPY formats the rows in psycopg's C code, where an INSERT of column arrays dumps every
    array item in Python: a page's rows cost a quarter of the CPU. The temporary table lives as
    long as the session and is emptied at each commit. It is created if missing in every page's
    transaction (one short statement): created in a transaction that then failed, it is gone.
    """

    def __init__(self, table: Composed, staging: str, columns: Sequence[tuple[str, str]]) -> None:
        names = SQL(", ").join(Identifier(name) for name, _type in columns)
        self.types = [sql_type for _name, sql_type in columns]
        staged = Identifier(staging)
        self._create = SQL(
            "CREATE TEMPORARY TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS"
        ).format(staged, table)
        self._copy = SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(staged, names)
        updates = SQL(", ").join(
            SQL("{0} = EXCLUDED.{0}").format(Identifier(name))
            for name, _type in columns
            if name != "id"
        )
        self._move = SQL(
            "INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT (id) DO UPDATE SET {}"
        ).format(table, names, names, staged, updates)

    def write(self, cursor: Cursor[DictRow], rows: Iterable[Sequence[object]]) -> None:
        """In the cursor's open transaction (the rows are the staging table's until commit)."""
        cursor.execute(self._create)
        with cursor.copy(self._copy) as copy:
            copy.set_types(self.types)
            for row in rows:
                copy.write_row(row)
        cursor.execute(self._move, prepare=True)


def copy_upsert(table: Composed, staging: str, columns: Sequence[Column]) -> CopyUpsert:
    return CopyUpsert(table, staging, [(column.name, column.sql_type) for column in columns])


def column_rows(
    columns: Sequence[Column], dossiers: Iterable[Dossier], calendar: WorkCalendar
) -> list[list[object]]:
    """The rows to write: one list of column values per dossier.

    The attributes are read by one `attrgetter` (in C) and the other values inserted at their
    places. The Dossier's enums are IntEnum and StrEnum: psycopg sends their values as they are.
    """
    sources = [column.source for column in columns if column.source is not None]
    computed = [(i, column.value) for i, column in enumerate(columns) if column.source is None]
    if len(sources) < 2:  # attrgetter of one name answers the value, not a tuple
        return [[column.value(dossier, calendar) for column in columns] for dossier in dossiers]
    read = attrgetter(*sources)
    rows = []
    for dossier in dossiers:
        row = list(read(dossier))
        for i, value in computed:
            row.insert(i, value(dossier, calendar))
        rows.append(row)
    return rows


IDENTITY_COLUMNS: tuple[Column, ...] = (
    attribute("id", "uuid", "PRIMARY KEY"),
    Column("code", "text", lambda dossier, _calendar: str(dossier.code), "NOT NULL UNIQUE"),
    attribute("version", "integer", "NOT NULL"),
    attribute("updated_at", "timestamptz", "NOT NULL", source="modified_on"),
)
"""What every per-dossier table starts with; `updated_at` is the last event's `recorded_at`
(Dossier events take the ledger's clock as their timestamp)."""


T = TypeVar("T")

DEFAULT_CACHE_SIZE = 50_000


class DossierCache(Generic[T]):
    """What a view wrote last, per dossier, as its committed rows hold it (least recent out).

    It saves loading and restoring rows a projector wrote itself. It belongs to the position
    its last page was committed at, and is dropped when a page starts from another position
    (another runner wrote, a rebuild's tables were swapped in) or when a page's transaction
    fails (its dossiers were advanced in memory). Rows at a position are a function of the
    events up to it, so at its own position the cache agrees with the rows whoever wrote them.
    """

    def __init__(self, max_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.max_size = max_size
        self._items: OrderedDict[UUID, T] = OrderedDict()
        self._position: int | None = None
        self._staged: dict[UUID, T] = {}

    def check(self, tracked: int) -> None:
        """A page after `tracked` begins: drop everything unless this cache wrote `tracked`."""
        if tracked != self._position:
            self._items.clear()
            self._position = None

    def lookup(self, ids: Iterable[UUID]) -> tuple[dict[UUID, T], list[UUID]]:
        """The items of `ids` held, and the ids to load."""
        found: dict[UUID, T] = {}
        missing: list[UUID] = []
        for key in ids:
            item = self._items.get(key)
            if item is None:
                missing.append(key)
            else:
                found[key] = item
        return found, missing

    def stage(self, items: dict[UUID, T]) -> None:
        """What the page in progress wrote; kept once it commits."""
        self._staged = items

    def commit(self, position: int) -> None:
        for key, item in self._staged.items():
            self._items[key] = item
            self._items.move_to_end(key)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)
        self._staged = {}
        self._position = position

    def discard(self) -> None:
        self._items.clear()
        self._staged = {}
        self._position = None


class DossierRowsView(PagedView):
    """A read model of one row per dossier, in the table named `base_name`, with `columns`."""

    columns: tuple[Column, ...] = IDENTITY_COLUMNS

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.table = self.qualified(self.base_name)
        self.sql_create_statements.append(create_table_statement(self.table, self.columns))
        self._select_rows = select_by_ids_statement(self.table)
        self._upsert_rows = copy_upsert(self.table, f"{self.base_name}_staged", self.columns)
        self.cache: DossierCache[Dossier] = DossierCache()

    @property
    def read_model_tables(self) -> tuple[str, ...]:
        return (self.base_name,)

    def index(self, suffix: str, definition: Composable) -> None:
        """Create the index `{table}_{suffix}` with this definition (columns, INCLUDE, WHERE)."""
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} {}").format(
                Identifier(f"{self.base_name}_{suffix}"), self.table, definition
            )
        )

    def page_begins(self, tracked: int) -> None:
        self.cache.check(tracked)

    def write(
        self, cursor: Cursor[DictRow], events: Sequence[Dossier.Event], calendar: WorkCalendar
    ) -> None:
        dossiers, missing = self.cache.lookup(stored_ids(events))
        if missing:
            cursor.execute(self._select_rows, (missing,), prepare=True)
            dossiers.update((row["id"], restore(row)) for row in cursor.fetchall())
        for event in events:
            dossiers[event.originator_id] = advance(dossiers.get(event.originator_id), event)
        self._upsert_rows.write(cursor, column_rows(self.columns, dossiers.values(), calendar))
        self.cache.stage(dossiers)

    def saved(self, position: int) -> None:
        self.cache.commit(position)

    def discard_unsaved(self) -> None:
        self.cache.discard()
