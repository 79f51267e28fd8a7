"""The `timeliness` read model: counters per agency, procedure and local day (Asia/Ho_Chi_Minh),
and the open spells of every dossier, so that a report can describe a period as it stood at its
end.

`timeliness_counters` holds, per (agency, procedure_code, day), what the timeliness report adds
up (projections.report). The counting rules, event by event:

- `received`: a Received event, on the local date of its occurred_at (the receipt);
  `received_online` the same for channel `online`.
- `refused`: a ReceiptRefused event (không được tiếp nhận), on its date. Not in any denominator.
- `finished_early`, `finished_on_time`, `finished_late`: a dossier that enters a finished status
  (Resolved, Withdrawn, ProcessingStopped; ResultReturned follows Resolved and is not counted
  again), on the local date of its finish, classified by `domain.timeliness.classify` at that
  moment: withdrawn counts on time, more than one supplementation request late, a stop while
  waiting for a supplement is judged at the wait's start. A dossier never received (withdrawn
  while only submitted online) has no due date and is not counted.
- `resolved`: a Resolved event, on its date; `resolved_electronic` those with an electronic
  result; `resolved_document` those whose procedure gives a document (`result_document` at
  receipt) and `resolved_document_electronic` those of them with an electronic result;
  `processing_working_time` the sum over the resolved of the working time from receipt to
  resolution, less the working time the clock was stopped (waiting for the applicant's
  supplements, or for fees that stop it); `processing_calendar_time` the same in elapsed time.

Days are local dates; the agency is the dossier code's; a dossier refused before any procedure
was named counts under procedure code '' (unknown). `timeliness_dossiers` keeps per dossier what
the counting needs (status, procedure, receipt, due date, supplement requests and the waits).

`timeliness_spells` keeps, per dossier, each stretch of time during which it was open (received,
not finished) with the same clock facts (original due date, paused_at, supplement requests):
from the event that began it (`since`) to the one that ended it (`until`, NULL while it lasts).
The spell that holds an instant is the dossier as it stood then, so a report classifies the
dossiers open at the end of a past period as they were at that end, whatever happened later.

`timeliness_open_days` holds, per (agency, procedure_code, day), the ended spells that held the
last instant of that local day (`open`) and how many of them were overdue then (`overdue`, as
`TimelinessView.open_statement` classifies a spell): a spell from `since` to `until` counts on
the local days from since's to the day before until's. A report of a past period then reads one
row per agency and procedure for the dossiers open at its end, plus the spells not ended yet,
instead of every spell that held that instant: the cost does not grow with the number of
dossiers open at the period's end. The rows are a function of the ended spells alone; a table
created beside existing spells (an upgrade) is filled from them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from operator import attrgetter, itemgetter
from typing import Any, Final, NamedTuple, TypeVar
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier

from domain.calendar import LOCAL_TZ, WorkCalendar
from domain.commands import Channel
from domain.dossier import Dossier
from domain.status import Status
from domain.timeliness import FINISHED_STATUSES, Timeliness, classify
from projections.classification import OPEN_STATUSES, OpenBounds, settled_timeliness
from projections.dossier_rows import (
    IDENTITY_COLUMNS,
    Column,
    DossierCache,
    advance,
    attribute,
    column_rows,
    copy_upsert,
    create_table_statement,
    restore,
    select_by_ids_statement,
    stored_ids,
)
from projections.names import TIMELINESS
from projections.view import PagedProjection, PagedView

UNKNOWN_PROCEDURE: Final = ""

DOSSIER_COLUMNS: Final = (
    *IDENTITY_COLUMNS,
    attribute("status", "smallint", "NOT NULL"),
    attribute("procedure_code", "text"),
    attribute("channel", "text"),
    attribute("received_at", "timestamptz"),
    attribute("original_due_at", "timestamptz"),
    attribute("paused_at", "timestamptz"),
    attribute("finished_at", "timestamptz"),
    attribute("supplement_requests", "integer", "NOT NULL"),
    attribute("result_document", "boolean", "NOT NULL"),
)


def _kept_by_the_tally(_dossier: Dossier, _calendar: WorkCalendar) -> object:
    raise AssertionError("the waits are not Dossier attributes: the Tally keeps them")


WAIT_COLUMNS: Final = (
    Column("stopped_working_time", "interval", _kept_by_the_tally, "NOT NULL"),
    Column("stopped_calendar_time", "interval", _kept_by_the_tally, "NOT NULL"),
)
"""Working time and elapsed time the dossier's clock was stopped (supplements, paused fees)."""


class Waits(NamedTuple):
    working: timedelta = timedelta()
    calendar: timedelta = timedelta()


class SpellKey(NamedTuple):
    """The clock facts a spell holds constant."""

    original_due_at: datetime | None
    paused_at: datetime | None
    supplement_requests: int


def spell_key(dossier: Dossier | None) -> SpellKey | None:
    """The clock facts of an open dossier (received, not finished), None for any other."""
    if dossier is None or dossier.received_at is None or dossier.status not in OPEN_STATUSES:
        return None
    return SpellKey(dossier.original_due_at, dossier.paused_at, dossier.supplement_requests)


@dataclass(slots=True)
class Spell:
    """A dossier open with the same clock facts from `since` to `until` (None: still); a
    spell the page opened is closed in place if the page ends it too."""

    id: UUID
    version: int
    since: datetime
    until: datetime | None
    agency: str
    procedure_code: str
    original_due_at: datetime | None
    paused_at: datetime | None
    supplement_requests: int
    settled_timeliness: str | None


SPELL_FIELDS: Final = tuple(field.name for field in fields(Spell))
SPELL_TYPES: Final = {
    "id": "uuid", "version": "integer", "since": "timestamptz", "until": "timestamptz",
    "agency": "text", "procedure_code": "text", "original_due_at": "timestamptz",
    "paused_at": "timestamptz", "supplement_requests": "integer", "settled_timeliness": "text",
}  # fmt: skip


OPEN_DURING: Final = "tstzrange(since, until, '[)')"
"""The instants a spell holds: from `since`, up to but not including `until` (NULL: no end yet).
A GiST index on it finds the spells that hold an instant without reading the others."""

OVERDUE: Final = Timeliness.OVERDUE.value
ONE_DAY: Final = timedelta(days=1)


def end_of_day(instant: datetime) -> date | None:
    """The local day whose last instant `instant` is (a past period's end), else None."""
    following = (instant + timedelta(microseconds=1)).astimezone(LOCAL_TZ)
    if following.time() != time():
        return None
    return following.date() - ONE_DAY


class EndedSpell(NamedTuple):
    """What `timeliness_open_days` counts of a spell that has ended."""

    agency: str
    procedure_code: str
    since: datetime
    until: datetime
    settled_timeliness: str | None
    supplement_requests: int
    original_due_at: datetime | None


ENDED_SPELL_FIELDS: Final = EndedSpell._fields


class SpellBook:
    """The spells a page of events opens, and the stored open spells it closes."""

    def __init__(self) -> None:
        self.new: list[Spell] = []
        self.closed_stored: dict[UUID, datetime] = {}
        self._open_new: dict[UUID, int] = {}

    def open(self, spell: Spell) -> None:
        self._open_new[spell.id] = len(self.new)
        self.new.append(spell)

    def close(self, dossier_id: UUID, at: datetime) -> None:
        index = self._open_new.pop(dossier_id, None)
        if index is None:
            self.closed_stored[dossier_id] = at
        else:
            self.new[index].until = at


class CounterKey(NamedTuple):
    agency: str
    procedure_code: str
    day: date


@dataclass
class DayCounts:
    """The counters of one agency, procedure and day (see the module docstring)."""

    received: int = 0
    received_online: int = 0
    refused: int = 0
    finished_early: int = 0
    finished_on_time: int = 0
    finished_late: int = 0
    resolved: int = 0
    resolved_electronic: int = 0
    processing_working_time: timedelta = timedelta()
    resolved_document: int = 0
    resolved_document_electronic: int = 0
    processing_calendar_time: timedelta = timedelta()

    def finished(self, timeliness: Timeliness) -> None:
        if timeliness is Timeliness.EARLY:
            self.finished_early += 1
        elif timeliness is Timeliness.ON_TIME:
            self.finished_on_time += 1
        elif timeliness is Timeliness.LATE:
            self.finished_late += 1


COUNTER_NAMES: Final = tuple(field.name for field in fields(DayCounts))
INTERVAL_COUNTERS: Final = frozenset({"processing_working_time", "processing_calendar_time"})


T = TypeVar("T")


def by_counter_key(
    counted: Mapping[CounterKey, T], *values: Callable[[T], object]
) -> list[list[Any]]:
    """The arrays of an upsert by (agency, procedure_code, day): the keys', then each value's."""
    keys = list(counted)
    return [
        [key.agency for key in keys],
        [key.procedure_code for key in keys],
        [key.day for key in keys],
        *([value(counted[key]) for key in keys] for value in values),
    ]


class Tally:
    """The counters a page of events adds, each touched dossier's waits, and its spells."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        self.days: dict[CounterKey, DayCounts] = {}
        self.waits: dict[UUID, Waits] = {}
        self.spells = SpellBook()
        self.open_days: dict[CounterKey, list[int]] = {}

    def ended(self, spell: EndedSpell) -> None:
        """An ended spell in `timeliness_open_days`: on each local day at whose last instant it
        held (since <= instant < until: the days from since's to the one before until's), one
        open, and one overdue if it was overdue then, as `open_statement` classifies it (settled
        overdue, or not settled and either more than one supplementation request or due before
        that day began)."""
        first = spell.since.astimezone(LOCAL_TZ).date()
        last = spell.until.astimezone(LOCAL_TZ).date()
        if first >= last:
            return
        settled, due = spell.settled_timeliness, spell.original_due_at
        always = settled == OVERDUE or (settled is None and spell.supplement_requests > 1)
        due_day = None if settled is not None or due is None else due.astimezone(LOCAL_TZ).date()
        agency, procedure_code, days = spell.agency, spell.procedure_code, self.open_days
        day = first
        while day < last:
            key = CounterKey(agency, procedure_code, day)
            counts = days.get(key)
            if counts is None:
                counts = days[key] = [0, 0]
            counts[0] += 1
            counts[1] += always or (due_day is not None and due_day < day)
            day += ONE_DAY

    def on(self, dossier: Dossier, instant: datetime) -> DayCounts:
        key = CounterKey(
            dossier.agency,
            dossier.procedure_code or UNKNOWN_PROCEDURE,
            self.calendar.local_date(instant),
        )
        counts = self.days.get(key)
        if counts is None:
            counts = self.days[key] = DayCounts()
        return counts

    def count(
        self,
        event: Dossier.Event,
        before: Status | None,
        before_spell: SpellKey | None,
        dossier: Dossier,
    ) -> None:
        """What one event adds, `dossier` being its state after the event, `before_spell` the
        clock facts before it (None: it was not open)."""
        if isinstance(event, Dossier.Received):
            counts = self.on(dossier, event.occurred_at)
            counts.received += 1
            counts.received_online += dossier.channel == Channel.ONLINE
        elif isinstance(event, Dossier.ReceiptRefused):
            self.on(dossier, event.occurred_at).refused += 1
        elif isinstance(event, Dossier.SupplementProvided | Dossier.FeePaid):
            self._resumed(dossier.id, event.paused_at, event.occurred_at)
        if before not in FINISHED_STATUSES and dossier.status in FINISHED_STATUSES:
            self._finish(event, dossier)
        self._follow_spell(event, before_spell, dossier)

    def _resumed(self, dossier_id: UUID, paused_at: datetime | None, at: datetime) -> None:
        if paused_at is None:
            return  # fees paid while the clock kept running
        working, calendar = self.waits[dossier_id]
        self.waits[dossier_id] = Waits(
            working + self.calendar.working_time_between(paused_at, at),
            calendar + max(at - paused_at, timedelta()),
        )

    def _follow_spell(
        self, event: Dossier.Event, before: SpellKey | None, dossier: Dossier
    ) -> None:
        after = spell_key(dossier)
        if after == before:
            return
        if before is not None:
            self.spells.close(dossier.id, event.occurred_at)
        if after is not None:
            settled = settled_timeliness(dossier, self.calendar)
            self.spells.open(
                Spell(
                    id=dossier.id,
                    version=event.originator_version,
                    since=event.occurred_at,
                    until=None,
                    agency=dossier.agency,
                    procedure_code=dossier.procedure_code or UNKNOWN_PROCEDURE,
                    original_due_at=after.original_due_at,
                    paused_at=after.paused_at,
                    supplement_requests=after.supplement_requests,
                    settled_timeliness=None if settled is None else settled.value,
                )
            )

    def _finish(self, event: Dossier.Event, dossier: Dossier) -> None:
        assert dossier.finished_at is not None
        counts = self.on(dossier, dossier.finished_at)
        timeliness = classify(dossier, dossier.finished_at, self.calendar)
        if timeliness is not None:
            counts.finished(timeliness)
        if isinstance(event, Dossier.Resolved):
            assert dossier.received_at is not None and dossier.resolved_at is not None
            electronic = bool(dossier.electronic_result)
            counts.resolved += 1
            counts.resolved_electronic += electronic
            if dossier.result_document:
                counts.resolved_document += 1
                counts.resolved_document_electronic += electronic
            waits = self.waits[dossier.id]
            worked = self.calendar.working_time_between(dossier.received_at, dossier.resolved_at)
            elapsed = dossier.resolved_at - dossier.received_at
            counts.processing_working_time += max(worked - waits.working, timedelta())
            counts.processing_calendar_time += max(elapsed - waits.calendar, timedelta())


@dataclass(frozen=True)
class PeriodCounts:
    """The counters added up over days, for an agency, a procedure, or both."""

    received: int
    received_online: int
    refused: int
    finished_early: int
    finished_on_time: int
    finished_late: int
    resolved: int
    resolved_electronic: int
    processing_working_time: timedelta
    resolved_document: int
    resolved_document_electronic: int
    processing_calendar_time: timedelta

    @classmethod
    def total(cls, parts: Sequence[PeriodCounts]) -> PeriodCounts:
        sums: dict[str, Any] = {
            name: timedelta() if name in INTERVAL_COUNTERS else 0 for name in COUNTER_NAMES
        }
        for part in parts:
            for name in COUNTER_NAMES:
                sums[name] += getattr(part, name)
        return cls(**sums)


@dataclass(frozen=True)
class OpenCounts:
    """Dossiers open (received, not finished) at a moment, and how many were overdue then."""

    open: int
    overdue: int

    @property
    def in_time(self) -> int:
        return self.open - self.overdue


def counts_of(rows: Sequence[Mapping[str, Any]]) -> dict[str, PeriodCounts]:
    """Per procedure code, the counters of `counts_statement`'s rows."""
    counts = {}
    for row in rows:
        values = dict(row)
        code = values.pop("procedure_code")
        counts[code] = PeriodCounts(**values)
    return counts


def open_counts_of(rows: Sequence[Mapping[str, Any]]) -> OpenCounts:
    (row,) = rows
    return OpenCounts(open=row["open"], overdue=row["overdue"])


class TimelinessView(PagedView):
    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.dossiers_table = self.qualified(f"{self.base_name}_dossiers")
        self.counters_table = self.qualified(f"{self.base_name}_counters")
        self.spells_table = self.qualified(f"{self.base_name}_spells")
        self.open_days_table = self.qualified(f"{self.base_name}_open_days")
        columns = (*DOSSIER_COLUMNS, *WAIT_COLUMNS)
        self.sql_create_statements += [
            create_table_statement(self.dossiers_table, columns),
            self._create_counters(),
            self._index("counters_by_procedure", "(procedure_code, day)"),
            self._index("counters_by_day", "(day)"),
            self._create_spells(),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist ({})").format(
                Identifier(f"{self.base_name}_spells_open_during"),
                self.spells_table,
                SQL(OPEN_DURING),
            ),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (since) WHERE until IS NULL").format(
                Identifier(f"{self.base_name}_spells_not_ended"), self.spells_table
            ),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (agency text NOT NULL, procedure_code text NOT NULL,"
                " day date NOT NULL, open integer NOT NULL, overdue integer NOT NULL,"
                " PRIMARY KEY (agency, procedure_code, day))"
            ).format(self.open_days_table),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (day)").format(
                Identifier(f"{self.base_name}_open_days_by_day"), self.open_days_table
            ),
            self._fill_open_days_statement(),
        ]
        self._select_dossiers = select_by_ids_statement(self.dossiers_table)
        self._upsert_dossiers = copy_upsert(
            self.dossiers_table, f"{self.base_name}_dossiers_staged", columns
        )
        self._add_counts = self._add_counts_statement()
        self._close_spells = SQL(
            "UPDATE {0} AS spell SET until = closed.until"
            " FROM unnest(%b::uuid[], %b::timestamptz[]) AS closed(id, until)"
            " WHERE spell.id = closed.id AND spell.until IS NULL RETURNING {1}"
        ).format(
            self.spells_table,
            SQL(", ").join(SQL("spell.{}").format(Identifier(n)) for n in ENDED_SPELL_FIELDS),
        )
        self._add_open_days = SQL(
            "INSERT INTO {0} (agency, procedure_code, day, open, overdue)"
            " SELECT * FROM unnest(%b::text[], %b::text[], %b::date[], %b::integer[],"
            " %b::integer[]) ON CONFLICT (agency, procedure_code, day) DO UPDATE SET"
            " open = {0}.open + EXCLUDED.open, overdue = {0}.overdue + EXCLUDED.overdue"
        ).format(self.open_days_table)
        self._copy_spells = SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            self.spells_table, SQL(", ").join(Identifier(name) for name in SPELL_FIELDS)
        )
        self.cache: DossierCache[tuple[Dossier, Waits]] = DossierCache()

    @property
    def read_model_tables(self) -> tuple[str, ...]:
        parts = ("dossiers", "counters", "spells", "open_days")
        return tuple(f"{self.base_name}_{part}" for part in parts)

    def _fill_open_days_statement(self) -> Composed:
        """`timeliness_open_days` from the ended spells, when it is empty (created beside
        spells of an earlier version): the rows `Tally.ended` would have added, computed by
        PostgreSQL (local days in the calendar's time zone, LOCAL_TZ)."""
        local = f"(({{}}) AT TIME ZONE '{LOCAL_TZ.key}')::date"
        since, until, due = (
            SQL(local.format(column)) for column in ("since", "until", "original_due_at")
        )
        return SQL(
            "INSERT INTO {days} (agency, procedure_code, day, open, overdue)"
            " SELECT agency, procedure_code, {since} + n, count(*), count(*) FILTER (WHERE"
            " settled_timeliness = 'overdue' OR (settled_timeliness IS NULL AND"
            " (supplement_requests > 1 OR {due} < {since} + n)))"
            " FROM {spells}, generate_series(0, {until} - {since} - 1) AS n"
            " WHERE until IS NOT NULL AND NOT EXISTS (SELECT FROM {days})"
            " GROUP BY agency, procedure_code, {since} + n"
        ).format(
            days=self.open_days_table, spells=self.spells_table, since=since, until=until, due=due
        )

    def _create_spells(self) -> Composed:
        definitions = SQL(", ").join(
            SQL("{} {}{}").format(
                Identifier(name),
                SQL(SPELL_TYPES[name]),
                SQL(
                    ""
                    if name in {"until", "original_due_at", "paused_at", "settled_timeliness"}
                    else " NOT NULL"
                ),
            )
            for name in SPELL_FIELDS
        )
        return SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY (id, version))").format(
            self.spells_table, definitions
        )

    def _create_counters(self) -> Composed:
        counters = SQL(", ").join(
            SQL(
                "{} interval NOT NULL" if name in INTERVAL_COUNTERS else "{} integer NOT NULL"
            ).format(Identifier(name))
            for name in COUNTER_NAMES
        )
        return SQL(
            "CREATE TABLE IF NOT EXISTS {} (agency text NOT NULL, procedure_code text NOT NULL,"
            " day date NOT NULL, {}, PRIMARY KEY (agency, procedure_code, day))"
        ).format(self.counters_table, counters)

    def _index(self, suffix: str, columns: str) -> Composed:
        name = Identifier(f"{self.base_name}_{suffix}")
        return SQL("CREATE INDEX IF NOT EXISTS {} ON {} {}").format(
            name, self.counters_table, SQL(columns)
        )

    def _add_counts_statement(self) -> Composed:
        names = SQL(", ").join(Identifier(name) for name in COUNTER_NAMES)
        arrays = SQL(", ").join(
            SQL("%b::interval[]" if name in INTERVAL_COUNTERS else "%b::integer[]")
            for name in COUNTER_NAMES
        )
        sums = SQL(", ").join(
            SQL("{0} = {1}.{0} + EXCLUDED.{0}").format(Identifier(name), self.counters_table)
            for name in COUNTER_NAMES
        )
        return SQL(
            "INSERT INTO {table} (agency, procedure_code, day, {names})"
            " SELECT * FROM unnest(%b::text[], %b::text[], %b::date[], {arrays})"
            " ON CONFLICT (agency, procedure_code, day) DO UPDATE SET {sums}"
        ).format(table=self.counters_table, names=names, arrays=arrays, sums=sums)

    def page_begins(self, tracked: int) -> None:
        self.cache.check(tracked)

    def write(
        self, cursor: Cursor[DictRow], events: Sequence[Dossier.Event], calendar: WorkCalendar
    ) -> None:
        cached, missing = self.cache.lookup(stored_ids(events))
        tally = Tally(calendar)
        dossiers = {key: dossier for key, (dossier, _wait) in cached.items()}
        tally.waits = {key: wait for key, (_dossier, wait) in cached.items()}
        if missing:
            cursor.execute(self._select_dossiers, (missing,), prepare=True)
            for row in cursor.fetchall():
                dossiers[row["id"]] = restore(row)
                tally.waits[row["id"]] = Waits(
                    row["stopped_working_time"], row["stopped_calendar_time"]
                )
        for event in events:
            before = dossiers.get(event.originator_id)
            before_status = None if before is None else before.status
            before_spell = spell_key(before)
            dossier = dossiers[event.originator_id] = advance(before, event)
            tally.waits.setdefault(dossier.id, Waits())
            tally.count(event, before_status, before_spell, dossier)
        rows = column_rows(DOSSIER_COLUMNS, dossiers.values(), calendar)
        for values, dossier in zip(rows, dossiers.values(), strict=True):
            values.extend(tally.waits[dossier.id])
        self._upsert_dossiers.write(cursor, rows)
        self._write_spells(cursor, tally)
        if tally.days:
            counters = (attrgetter(name) for name in COUNTER_NAMES)
            cursor.execute(self._add_counts, by_counter_key(tally.days, *counters))
        self.cache.stage({key: (dossier, tally.waits[key]) for key, dossier in dossiers.items()})

    def _write_spells(self, cursor: Cursor[DictRow], tally: Tally) -> None:
        """Close the stored spells first: the new ones may be open, and must stay so. Then the
        days of every spell that ended (stored or new) are added to `timeliness_open_days`."""
        spells = tally.spells
        if spells.closed_stored:
            ids = list(spells.closed_stored)
            cursor.execute(self._close_spells, [ids, [spells.closed_stored[i] for i in ids]])
            for row in cursor.fetchall():
                tally.ended(EndedSpell(**row))
        if spells.new:
            with cursor.copy(self._copy_spells) as copy:
                copy.set_types([SPELL_TYPES[name] for name in SPELL_FIELDS])
                values = attrgetter(*SPELL_FIELDS)
                for spell in spells.new:
                    copy.write_row(values(spell))
            ended = attrgetter(*ENDED_SPELL_FIELDS)
            for spell in spells.new:
                if spell.until is not None:
                    tally.ended(EndedSpell(*ended(spell)))
        if tally.open_days:
            counts = by_counter_key(tally.open_days, itemgetter(0), itemgetter(1))
            cursor.execute(self._add_open_days, counts)

    def saved(self, position: int) -> None:
        self.cache.commit(position)

    def discard_unsaved(self) -> None:
        self.cache.discard()

    def period_counts(
        self,
        *,
        agency: str | None,
        procedure_code: str | None,
        first_day: date,
        last_day: date,
    ) -> PeriodCounts:
        """The counters added up over the local days first_day..last_day (both included)."""
        parts = self.counts_by_procedure(
            agency=agency, procedure_code=procedure_code, first_day=first_day, last_day=last_day
        )
        return PeriodCounts.total(list(parts.values()))

    def counts_by_procedure(
        self,
        *,
        agency: str | None,
        procedure_code: str | None,
        first_day: date,
        last_day: date,
    ) -> dict[str, PeriodCounts]:
        """The counters over first_day..last_day (both included), per procedure code."""
        statement, parameters = self.counts_statement(agency, procedure_code, first_day, last_day)
        with self.datastore.get_connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        return counts_of(rows)

    def counts_statement(
        self, agency: str | None, procedure_code: str | None, first_day: date, last_day: date
    ) -> tuple[Composed, dict[str, Any]]:
        """`counts_by_procedure`'s statement and parameters (its rows: `counts_of`)."""
        clauses: list[Composable] = [SQL("day BETWEEN %(first_day)s AND %(last_day)s")]
        parameters: dict[str, Any] = {"first_day": first_day, "last_day": last_day}
        clauses += self._scope(parameters, agency, procedure_code)
        sums = SQL(", ").join(
            SQL("coalesce(sum({0}), {1}) AS {0}").format(
                Identifier(name), SQL("interval '0'" if name in INTERVAL_COUNTERS else "0")
            )
            for name in COUNTER_NAMES
        )
        statement = SQL(
            "SELECT procedure_code, {} FROM {} WHERE {} GROUP BY procedure_code"
            " ORDER BY procedure_code"
        ).format(sums, self.counters_table, SQL(" AND ").join(clauses))
        return statement, parameters

    def count_open_at(
        self, *, agency: str | None, procedure_code: str | None, bounds: OpenBounds
    ) -> OpenCounts:
        """Dossiers open at `bounds.now`, as they stood then, and how many were overdue then.

        The spell holding that instant gives the facts: begun at or before it, ended after it
        (a dossier finished at that very instant still counts as open, as a finish on the next
        day would). Paused spells and spells without a due date carry their settled class;
        the others are overdue with more than one supplementation request or once the local
        date of the moment is past their due date's.
        """
        statement, parameters = self.open_statement(agency, procedure_code, bounds)
        with self.datastore.get_connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        return open_counts_of(rows)

    def open_statement(
        self, agency: str | None, procedure_code: str | None, bounds: OpenBounds
    ) -> tuple[Composed, dict[str, Any]]:
        """`count_open_at`'s statement and parameters (its row: `open_counts_of`).

        At the last instant of a local day (a past period's end), the ended spells are read
        from `timeliness_open_days` (a row per agency and procedure) and only the spells not
        ended yet from the spells; at any other instant, every spell holding it."""
        parameters: dict[str, Any] = {"as_of": bounds.now, **bounds.parameters()}
        scope = SQL("").join(
            SQL(" AND ") + clause for clause in self._scope(parameters, agency, procedure_code)
        )
        overdue = SQL(
            "count(*) FILTER (WHERE settled_timeliness = 'overdue' OR (settled_timeliness IS NULL"
            " AND (supplement_requests > 1 OR original_due_at < %(overdue_before)s)))"
        )
        day = end_of_day(bounds.now)
        if day is None:
            statement = SQL(
                "SELECT count(*) AS open, {} AS overdue FROM {}"
                " WHERE {} @> %(as_of)s::timestamptz{}"
            ).format(overdue, self.spells_table, SQL(OPEN_DURING), scope)
            return statement, parameters
        parameters["day"] = day
        statement = SQL(
            "SELECT ended.open + going.open AS open, ended.overdue + going.overdue AS overdue"
            " FROM (SELECT coalesce(sum(open), 0) AS open, coalesce(sum(overdue), 0) AS overdue"
            " FROM {days} WHERE day = %(day)s{scope}) AS ended,"
            " (SELECT count(*) AS open, {overdue} AS overdue FROM {spells}"
            " WHERE until IS NULL AND since <= %(as_of)s{scope}) AS going"
        ).format(days=self.open_days_table, spells=self.spells_table, overdue=overdue, scope=scope)
        return statement, parameters

    @staticmethod
    def _scope(
        parameters: dict[str, Any], agency: str | None, procedure_code: str | None
    ) -> list[Composed]:
        clauses: list[Composed] = []
        if agency is not None:
            clauses.append(SQL("agency = %(agency)s").format())
            parameters["agency"] = agency
        if procedure_code is not None:
            clauses.append(SQL("procedure_code = %(procedure_code)s").format())
            parameters["procedure_code"] = procedure_code
        return clauses

    def counted(self, column: str, *, first_day: date, last_day: date) -> list[str]:
        """The agencies (column `agency`) or procedures (`procedure_code`) with counters on a
        day of the period, in order (the rows of a dashboard's rankings)."""
        if column not in {"agency", "procedure_code"}:
            raise ValueError(f"no counters by {column!r}")
        statement = SQL(
            "SELECT DISTINCT {0} AS value FROM {1} WHERE day BETWEEN %s AND %s AND {0} <> ''"
            " ORDER BY 1"
        ).format(Identifier(column), self.counters_table)
        with self.datastore.get_connection() as connection:
            rows = connection.execute(statement, (first_day, last_day)).fetchall()
        return [row["value"] for row in rows]


class TimelinessProjection(PagedProjection[TimelinessView]):
    name = TIMELINESS
