"""The `steps` read model: every step of every dossier (domain.steps), and counters per agency,
unit, step and local day of the steps finished.

`steps_dossiers` holds one row per dossier that has steps: its steps as they happened, in order
(`runs`, JSON: each step's unit, agency, name, time allowed, due instants, waits, flags, start
and finish), when the first began (`since`) and the last finished (`until`, NULL while one is in
progress: a dossier's steps follow one another without a gap), the agencies that did them
(`agencies`, `,A,B,`), and the overrun of its finished steps added up (working time used beyond
allowed). So a report can tell how a dossier's steps stood at any instant (`StepRun.as_of`).

`steps_counters` adds up, per (agency, unit, step, day), the steps finished on that local day:
`finished_early`, `finished_on_time`, `finished_late` and `finished_unplanned` (not in the
internal procedure), the steps flagged `repeated`, `out_of_order`, `skipped`, and the working
time `working_time_used`, `working_time_allowed` and `overrun` of the planned ones, and
`unplanned_working_time` of the others. `name` is the step's name in the latest one counted.

A page of events is followed with the domain's own rule, each event's `step_change`: the
dossiers the page acts on are loaded once, advanced event by event, and written back in one
upsert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, Final, NamedTuple
from uuid import UUID

import msgspec
from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier

from domain.calendar import WorkCalendar
from domain.dossier import Dossier
from domain.steps import StepFlag, StepRun
from domain.timeliness import Timeliness
from projections.dossier_rows import DossierCache
from projections.names import STEPS
from projections.view import PagedProjection, PagedView

_ZERO: Final = timedelta()
_ENCODER: Final = msgspec.json.Encoder()

_RUNS_DECODER: Final = msgspec.json.Decoder(tuple[StepRun, ...])

ROW_COLUMNS: Final = {
    "id": "uuid", "since": "timestamptz", "until": "timestamptz", "agencies": "text",
    "overrun": "interval", "runs": "bytea",
}  # fmt: skip

HELD_DURING: Final = "tstzrange(since, until, '[)')"
"""The instants a dossier was in one of its steps: from the first's start, up to but not
including the last's finish."""


class Followed(NamedTuple):
    """A dossier's steps as the read model follows them, and their overrun so far."""

    runs: tuple[StepRun, ...]
    overrun: timedelta

    @property
    def current(self) -> StepRun | None:
        runs = self.runs
        return runs[-1] if runs and runs[-1].finished_at is None else None


def _acts_on_a_step(event_class: type[Dossier.Event]) -> bool:
    """Whether events of the class change a step in progress (Received begins the first)."""
    return event_class.moves_steps and not issubclass(event_class, Dossier.Opening)


@dataclass
class StepCounts:
    """The counters of one agency, unit and step over some days (see the module docstring)."""

    finished_early: int = 0
    finished_on_time: int = 0
    finished_late: int = 0
    finished_unplanned: int = 0
    repeated: int = 0
    out_of_order: int = 0
    skipped: int = 0
    working_time_used: timedelta = _ZERO
    working_time_allowed: timedelta = _ZERO
    overrun: timedelta = _ZERO
    unplanned_working_time: timedelta = _ZERO

    def count(self, run: StepRun, timeliness: Timeliness | None, used: timedelta) -> None:
        """Add a finished step, of this class, that used this much working time."""
        if timeliness is Timeliness.EARLY:
            self.finished_early += 1
        elif timeliness is Timeliness.ON_TIME:
            self.finished_on_time += 1
        elif timeliness is Timeliness.LATE:
            self.finished_late += 1
        if run.allowed is None:
            self.finished_unplanned += 1
            self.unplanned_working_time += used
        else:
            self.working_time_used += used
            self.working_time_allowed += run.allowed
            self.overrun += max(used - run.allowed, _ZERO)
        self.repeated += StepFlag.REPEATED in run.flags
        self.out_of_order += StepFlag.OUT_OF_ORDER in run.flags
        self.skipped += StepFlag.SKIPPED in run.flags

    def add(self, other: StepCounts) -> None:
        for name in COUNTER_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def finished(self) -> int:
        return self.finished_early + self.finished_on_time + self.finished_late


COUNTER_NAMES: Final = tuple(field.name for field in fields(StepCounts))
INTERVAL_COUNTERS: Final = frozenset(
    {"working_time_used", "working_time_allowed", "overrun", "unplanned_working_time"}
)


class StepKey(NamedTuple):
    agency: str
    unit: str
    step: str


@dataclass(frozen=True)
class StoredRun:
    """A dossier's step as the read model holds it."""

    dossier_id: UUID
    run: StepRun
    working_time_used: timedelta | None
    overrun: timedelta | None


class StepsView(PagedView):
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
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (id uuid PRIMARY KEY, since timestamptz NOT NULL,"
                " until timestamptz, agencies text NOT NULL, overrun interval NOT NULL,"
                " runs bytea NOT NULL)"
            ).format(self.dossiers_table),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist ({})").format(
                Identifier(f"{self.base_name}_dossiers_held_during"),
                self.dossiers_table,
                SQL(HELD_DURING),
            ),
            self._create_counters(),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (day)").format(
                Identifier(f"{self.base_name}_counters_by_day"), self.counters_table
            ),
        ]
        self._select_rows = SQL("SELECT id, runs, overrun FROM {} WHERE id = ANY(%s)").format(
            self.dossiers_table
        )
        self._upsert_rows = self._upsert_rows_statement()
        self._add_counts = self._add_counts_statement()
        self.cache: DossierCache[Followed] = DossierCache()
        self._acting: dict[type[Any], bool] = {}

    @property
    def read_model_tables(self) -> tuple[str, ...]:
        return (f"{self.base_name}_dossiers", f"{self.base_name}_counters")

    def _create_counters(self) -> Composed:
        counters = SQL(", ").join(
            SQL("{} {} NOT NULL").format(
                Identifier(name), SQL("interval" if name in INTERVAL_COUNTERS else "integer")
            )
            for name in COUNTER_NAMES
        )
        return SQL(
            "CREATE TABLE IF NOT EXISTS {} (agency text NOT NULL, unit text NOT NULL,"
            " step text NOT NULL, day date NOT NULL, name text, {},"
            " PRIMARY KEY (agency, unit, step, day))"
        ).format(self.counters_table, counters)

    def _upsert_rows_statement(self) -> Composed:
        names = SQL(", ").join(Identifier(name) for name in ROW_COLUMNS)
        arrays = SQL(", ").join(SQL("%b::{}[]").format(SQL(kind)) for kind in ROW_COLUMNS.values())
        updates = SQL(", ").join(
            SQL("{0} = EXCLUDED.{0}").format(Identifier(name))
            for name in ROW_COLUMNS
            if name != "id"
        )
        return SQL(
            "INSERT INTO {} ({}) SELECT * FROM unnest({}) ON CONFLICT (id) DO UPDATE SET {}"
        ).format(self.dossiers_table, names, arrays, updates)

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
            "INSERT INTO {table} (agency, unit, step, day, name, {names})"
            " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::date[], %b::text[],"
            " {arrays}) ON CONFLICT (agency, unit, step, day) DO UPDATE SET"
            " name = coalesce(EXCLUDED.name, {table}.name), {sums}"
        ).format(table=self.counters_table, names=names, arrays=arrays, sums=sums)

    def page_begins(self, tracked: int) -> None:
        self.cache.check(tracked)

    def acts_on_a_step(self, event: Dossier.Event) -> bool:
        kind = type(event)
        acting = self._acting.get(kind)
        if acting is None:
            acting = self._acting[kind] = _acts_on_a_step(kind)
        return acting

    def write(
        self, cursor: Cursor[DictRow], events: Sequence[Dossier.Event], calendar: WorkCalendar
    ) -> None:
        # A dossier opened in this page has nothing stored yet: no need to look it up.
        opened = {e.originator_id for e in events if isinstance(e, Dossier.Opening)}
        wanted = dict.fromkeys(
            e.originator_id
            for e in events
            if self.acts_on_a_step(e) and e.originator_id not in opened
        )
        followed, missing = self.cache.lookup(wanted)
        if missing:
            cursor.execute(self._select_rows, (missing,), prepare=True)
            for row in cursor.fetchall():
                followed[row["id"]] = Followed(_RUNS_DECODER.decode(row["runs"]), row["overrun"])
        touched: dict[UUID, Followed] = {}
        days: dict[tuple[StepKey, date], tuple[str | None, StepCounts]] = {}
        for event in events:
            dossier_id = event.originator_id
            before = followed.get(dossier_id)
            current = None if before is None else before.current
            ended, after = event.step_change(current)
            if ended is None and after is current:
                continue
            runs, overrun = _NOTHING if before is None else before
            if current is not None:
                runs = runs[:-1]
            if ended is not None:
                runs += (ended,)
                overrun += _count(days, ended, calendar)
            if after is not None:
                runs += (after,)
            followed[dossier_id] = touched[dossier_id] = Followed(runs, overrun)
        if touched:
            self._write_rows(cursor, touched, days)
        self.cache.stage(touched)

    def _write_rows(
        self,
        cursor: Cursor[DictRow],
        touched: dict[UUID, Followed],
        days: dict[tuple[StepKey, date], tuple[str | None, StepCounts]],
    ) -> None:
        rows = list(touched.values())
        cursor.execute(
            self._upsert_rows,
            [
                list(touched),
                [row.runs[0].started_at for row in rows],
                [row.runs[-1].finished_at for row in rows],
                [",{},".format(",".join(sorted({run.agency for run in row.runs}))) for row in rows],
                [row.overrun for row in rows],
                [_ENCODER.encode(row.runs) for row in rows],
            ],
        )
        if days:
            keys = list(days)
            cursor.execute(
                self._add_counts,
                [
                    [key.agency for key, _day in keys],
                    [key.unit for key, _day in keys],
                    [key.step for key, _day in keys],
                    [day for _key, day in keys],
                    [days[key][0] for key in keys],
                    *([getattr(days[key][1], name) for key in keys] for name in COUNTER_NAMES),
                ],
            )

    def saved(self, position: int) -> None:
        self.cache.commit(position)

    def discard_unsaved(self) -> None:
        self.cache.discard()

    # Queries.

    def counts_by_step(
        self, *, agency: str | None, first_day: date, last_day: date
    ) -> dict[StepKey, tuple[str | None, StepCounts]]:
        """The counters over the local days first_day..last_day (both included), per agency,
        unit and step, with the step's name."""
        sums = SQL(", ").join(
            SQL("coalesce(sum({0}), {1}) AS {0}").format(
                Identifier(name), SQL("interval '0'" if name in INTERVAL_COUNTERS else "0")
            )
            for name in COUNTER_NAMES
        )
        clauses: list[Composable] = [SQL("day BETWEEN %(first_day)s AND %(last_day)s")]
        parameters: dict[str, Any] = {"first_day": first_day, "last_day": last_day}
        if agency is not None:
            clauses.append(SQL("agency = %(agency)s"))
            parameters["agency"] = agency
        statement = SQL(
            "SELECT agency, unit, step, max(name) AS name, {} FROM {} WHERE {}"
            " GROUP BY agency, unit, step"
        ).format(sums, self.counters_table, SQL(" AND ").join(clauses))
        with self.datastore.get_connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        found = {}
        for row in rows:
            key = StepKey(row.pop("agency"), row.pop("unit"), row.pop("step"))
            found[key] = (row.pop("name"), StepCounts(**row))
        return found

    def held_at(self, *, agency: str | None, instant: datetime) -> list[StepRun]:
        """The steps in progress at `instant` (begun by then, not finished by then), each as it
        stood then; of `agency`, when given."""
        clauses: list[Composable] = [SQL(HELD_DURING + " @> %(instant)s::timestamptz")]
        parameters: dict[str, Any] = {"instant": instant}
        if agency is not None:
            clauses.append(SQL("strpos(agencies, %(needle)s) > 0"))
            parameters["needle"] = f",{agency},"
        statement = SQL("SELECT runs FROM {} WHERE {}").format(
            self.dossiers_table, SQL(" AND ").join(clauses)
        )
        with self.datastore.get_connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        held = []
        for row in rows:
            for run in _RUNS_DECODER.decode(row["runs"]):
                finished = run.finished_at is not None and run.finished_at <= instant
                in_scope = agency is None or run.agency == agency
                if run.started_at <= instant and not finished and in_scope:
                    held.append(run.as_of(instant))
        return [run for run in held if run is not None]

    def late_dossiers(
        self,
        dossiers: Composed,
        *,
        agency: str | None,
        finished_from: datetime,
        finished_until: datetime,
        limit: int,
    ) -> tuple[int, list[dict[str, Any]]]:
        """The dossiers finished late in [finished_from, finished_until] that have steps (one
        in `agency`, when given), most overrun first: how many, and the first `limit` (1 or
        more) of them (`id`, `code`, `agency`, `procedure_code`, `finished_at`, `overrun`).

        `dossiers` is the dossier_status read model's table: its `settled_timeliness` is the
        class of a finished dossier, the one the inspectors' lists show.
        """
        in_agency = SQL("")
        parameters: dict[str, Any] = {
            "finished_from": finished_from,
            "finished_until": finished_until,
            "limit": limit,
        }
        if agency is not None:
            in_agency = SQL(" AND strpos(steps.agencies, %(needle)s) > 0")
            parameters["needle"] = f",{agency},"
        statement = SQL(
            "SELECT dossier.id, dossier.code, dossier.agency, dossier.procedure_code,"
            " dossier.finished_at, steps.overrun, count(*) OVER () AS total"
            " FROM {dossiers} AS dossier JOIN {steps} AS steps ON steps.id = dossier.id"
            " WHERE dossier.settled_timeliness = 'late'"
            " AND dossier.finished_at >= %(finished_from)s"
            " AND dossier.finished_at <= %(finished_until)s{in_agency}"
            " ORDER BY steps.overrun DESC, dossier.code LIMIT %(limit)s"
        ).format(dossiers=dossiers, steps=self.dossiers_table, in_agency=in_agency)
        with self.datastore.get_connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        total = rows[0]["total"] if rows else 0
        for row in rows:
            del row["total"]
        return total, rows

    def runs_of(self, dossier_ids: Iterable[UUID], calendar: WorkCalendar) -> list[StoredRun]:
        """Every step of these dossiers, in order, with the working time the finished ones
        used and their overrun."""
        statement = SQL("SELECT id, runs FROM {} WHERE id = ANY(%s) ORDER BY id").format(
            self.dossiers_table
        )
        with self.datastore.get_connection() as connection:
            rows = connection.execute(statement, (list(dossier_ids),)).fetchall()
        found = []
        for row in rows:
            for run in _RUNS_DECODER.decode(row["runs"]):
                used = None if run.finished_at is None else run.working_time_used(calendar)
                overrun = None if used is None else run.beyond_allowed(used)
                found.append(StoredRun(row["id"], run, used, overrun))
        return found


_NOTHING: Final = Followed((), _ZERO)


def _count(
    days: dict[tuple[StepKey, date], tuple[str | None, StepCounts]],
    run: StepRun,
    calendar: WorkCalendar,
) -> timedelta:
    """Count a finished step on the local day of its finish; its overrun (0: none, or no
    time)."""
    finished_at = run.finished_at
    assert finished_at is not None
    used = run.working_time_used(calendar)
    key = (StepKey(run.agency, run.unit, run.step), calendar.local_date(finished_at))
    named, counts = days.get(key) or (None, StepCounts())
    counts.count(run, run.timeliness(finished_at, calendar), used)
    days[key] = (run.name or named, counts)
    return run.beyond_allowed(used) or _ZERO


class StepsProjection(PagedProjection[StepsView]):
    name = STEPS
