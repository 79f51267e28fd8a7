"""The `timeliness` read model: counters per agency, procedure and local day (Asia/Ho_Chi_Minh).

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
  result; `processing_working_time` the sum over them of the working time from receipt to
  resolution, less the working time spent waiting for the applicant's supplements (the clock
  was stopped then).

Days are local dates; the agency is the dossier code's; a dossier refused before any procedure
was named counts under procedure code '' (unknown). `timeliness_dossiers` keeps per dossier what
the counting needs (status, procedure, receipt, due date, supplement requests and the wait).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, Final, NamedTuple
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from domain.calendar import WorkCalendar
from domain.commands import Channel
from domain.dossier import Dossier
from domain.status import Status
from domain.timeliness import FINISHED_STATUSES, Timeliness, classify
from projections.dossier_rows import (
    IDENTITY_COLUMNS,
    Column,
    DossierCache,
    advance,
    attribute,
    column_arrays,
    create_table_statement,
    restore,
    select_by_ids_statement,
    upsert_statement,
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
)


def _kept_by_the_tally(_dossier: Dossier, _calendar: WorkCalendar) -> object:
    raise AssertionError("supplement_wait is not a Dossier attribute: the Tally keeps it")


SUPPLEMENT_WAIT: Final = Column("supplement_wait", "interval", _kept_by_the_tally, "NOT NULL")
"""Working time the dossier spent waiting for supplements (the clock was stopped)."""


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

    def finished(self, timeliness: Timeliness) -> None:
        if timeliness is Timeliness.EARLY:
            self.finished_early += 1
        elif timeliness is Timeliness.ON_TIME:
            self.finished_on_time += 1
        elif timeliness is Timeliness.LATE:
            self.finished_late += 1


COUNTER_NAMES: Final = tuple(field.name for field in fields(DayCounts))


class Tally:
    """The counters a page of events adds, and each touched dossier's supplement wait."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        self.days: dict[CounterKey, DayCounts] = {}
        self.waits: dict[UUID, timedelta] = {}

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

    def count(self, event: Dossier.Event, before: Status | None, dossier: Dossier) -> None:
        """What one event adds, `dossier` being its state after the event."""
        if isinstance(event, Dossier.Received):
            counts = self.on(dossier, event.occurred_at)
            counts.received += 1
            counts.received_online += dossier.channel == Channel.ONLINE
        elif isinstance(event, Dossier.ReceiptRefused):
            self.on(dossier, event.occurred_at).refused += 1
        elif isinstance(event, Dossier.SupplementProvided):
            waited = self.calendar.working_time_between(event.paused_at, event.occurred_at)
            self.waits[dossier.id] += waited
        if before not in FINISHED_STATUSES and dossier.status in FINISHED_STATUSES:
            self._finish(event, dossier)

    def _finish(self, event: Dossier.Event, dossier: Dossier) -> None:
        assert dossier.finished_at is not None
        counts = self.on(dossier, dossier.finished_at)
        timeliness = classify(dossier, dossier.finished_at, self.calendar)
        if timeliness is not None:
            counts.finished(timeliness)
        if isinstance(event, Dossier.Resolved):
            assert dossier.received_at is not None and dossier.resolved_at is not None
            counts.resolved += 1
            counts.resolved_electronic += bool(dossier.electronic_result)
            elapsed = self.calendar.working_time_between(dossier.received_at, dossier.resolved_at)
            counts.processing_working_time += max(elapsed - self.waits[dossier.id], timedelta())


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
        columns = (*DOSSIER_COLUMNS, SUPPLEMENT_WAIT)
        self.sql_create_statements += [
            create_table_statement(self.dossiers_table, columns),
            self._create_counters(),
            self._index("counters_by_procedure", "(procedure_code, day)"),
            self._index("counters_by_day", "(day)"),
        ]
        self._select_dossiers = select_by_ids_statement(self.dossiers_table)
        self._upsert_dossiers = upsert_statement(self.dossiers_table, columns)
        self._add_counts = self._add_counts_statement()
        self.cache: DossierCache[tuple[Dossier, timedelta]] = DossierCache()

    @property
    def read_model_tables(self) -> tuple[str, ...]:
        return (f"{self.base_name}_dossiers", f"{self.base_name}_counters")

    def _create_counters(self) -> Composed:
        counters = SQL(", ").join(
            SQL(
                "{} interval NOT NULL"
                if name == "processing_working_time"
                else "{} integer NOT NULL"
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
            SQL("%b::interval[]" if name == "processing_working_time" else "%b::integer[]")
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
        ids = dict.fromkeys(event.originator_id for event in events)
        cached, missing = self.cache.lookup(ids)
        tally = Tally(calendar)
        dossiers = {key: dossier for key, (dossier, _wait) in cached.items()}
        tally.waits = {key: wait for key, (_dossier, wait) in cached.items()}
        if missing:
            cursor.execute(self._select_dossiers, (missing,), prepare=True)
            for row in cursor.fetchall():
                dossiers[row["id"]] = restore(row)
                tally.waits[row["id"]] = row["supplement_wait"]
        for event in events:
            before = dossiers.get(event.originator_id)
            before_status = None if before is None else before.status
            dossier = dossiers[event.originator_id] = advance(before, event)
            tally.waits.setdefault(dossier.id, timedelta())
            tally.count(event, before_status, dossier)
        rows = list(dossiers.values())
        parameters = column_arrays(DOSSIER_COLUMNS, rows, calendar)
        parameters.append([tally.waits[dossier.id] for dossier in rows])
        cursor.execute(self._upsert_dossiers, parameters)
        if tally.days:
            keys = list(tally.days)
            cursor.execute(
                self._add_counts,
                [
                    [key.agency for key in keys],
                    [key.procedure_code for key in keys],
                    [key.day for key in keys],
                    *([getattr(tally.days[key], name) for key in keys] for name in COUNTER_NAMES),
                ],
            )
        self.cache.stage({key: (dossier, tally.waits[key]) for key, dossier in dossiers.items()})

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
        clauses = [SQL("day BETWEEN %(first_day)s AND %(last_day)s")]
        parameters: dict[str, Any] = {"first_day": first_day, "last_day": last_day}
        if agency is not None:
            clauses.append(SQL("agency = %(agency)s"))
            parameters["agency"] = agency
        if procedure_code is not None:
            clauses.append(SQL("procedure_code = %(procedure_code)s"))
            parameters["procedure_code"] = procedure_code
        sums = SQL(", ").join(
            SQL("coalesce(sum({0}), {1}) AS {0}").format(
                Identifier(name),
                SQL("interval '0'" if name == "processing_working_time" else "0"),
            )
            for name in COUNTER_NAMES
        )
        statement = SQL("SELECT {} FROM {} WHERE {}").format(
            sums, self.counters_table, SQL(" AND ").join(clauses)
        )
        with self.datastore.get_connection() as connection:
            row = connection.execute(statement, parameters).fetchone()
        assert row is not None
        return PeriodCounts(**row)

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
