"""The `dossier_status` read model: one row per dossier, the inspector's view of it.

Columns: the wire contract's inspector view (code, agency, procedure code and name, channel,
status, submitted_at, received_at, due_at, original_due_at, paused_at, resolved_at, returned_at,
finished_at, supplement_requests, extensions, extended_after_due, outcome, electronic_result,
version), `updated_at` (the last event's recorded_at) and `settled_timeliness`: the class of a
finished dossier, stored at its finish, or of one whose clock is stopped or that has no due date
(see projections.classification). Open dossiers with a running clock are classified at the
moment of asking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier, Literal

from application.reads import AsyncReads
from domain.calendar import WorkCalendar
from domain.commands import Channel, Outcome
from domain.status import Status
from domain.timeliness import Timeliness, classify
from projections.classification import (
    RUNNING_CLOCK_STATUSES,
    OpenBounds,
    settled_timeliness,
)
from projections.dossier_rows import (
    IDENTITY_COLUMNS,
    Column,
    DossierRowsView,
    attribute,
)
from projections.names import DOSSIER_STATUS
from projections.view import PagedProjection

COLUMNS: Final = (
    *IDENTITY_COLUMNS,
    attribute("agency", "text", "NOT NULL"),
    attribute("procedure_code", "text"),
    attribute("procedure_name", "text"),
    attribute("channel", "text"),
    attribute("status", "smallint", "NOT NULL"),
    attribute("submitted_at", "timestamptz"),
    attribute("received_at", "timestamptz"),
    attribute("due_at", "timestamptz"),
    attribute("original_due_at", "timestamptz"),
    attribute("paused_at", "timestamptz"),
    attribute("resolved_at", "timestamptz"),
    attribute("returned_at", "timestamptz"),
    attribute("finished_at", "timestamptz"),
    attribute("supplement_requests", "integer", "NOT NULL"),
    attribute("extensions", "integer", "NOT NULL"),
    attribute("extended_after_due", "boolean", "NOT NULL"),
    attribute("outcome", "text"),
    attribute("electronic_result", "boolean"),
    Column("settled_timeliness", "text", settled_timeliness),
)


def _status_list(statuses: tuple[Status, ...]) -> Composed:
    return SQL(", ").join(Literal(int(status)) for status in statuses)


RUNNING: Final = SQL("status IN ({}) AND paused_at IS NULL AND original_due_at IS NOT NULL").format(
    _status_list(RUNNING_CLOCK_STATUSES)
)
OVERDUE: Final = SQL(
    "(settled_timeliness = 'overdue' OR ({running}"
    " AND (supplement_requests > 1 OR original_due_at < %(overdue_before)s)))"
).format(running=RUNNING)

TIMELINESS_PREDICATES: Final[Mapping[Timeliness, Composed]] = {
    Timeliness.OVERDUE: OVERDUE,
    Timeliness.DUE_SOON: SQL(
        "(settled_timeliness = 'due_soon' OR ({running} AND supplement_requests <= 1"
        " AND original_due_at >= %(overdue_before)s AND original_due_at <= %(due_soon_until)s))"
    ).format(running=RUNNING),
    Timeliness.IN_TIME: SQL(
        "(settled_timeliness = 'in_time' OR ({running} AND supplement_requests <= 1"
        " AND original_due_at > %(due_soon_until)s))"
    ).format(running=RUNNING),
    **{
        settled: SQL("settled_timeliness = {}").format(Literal(settled.value))
        for settled in (Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE)
    },
}
"""Which rows are of a class at the moment of OpenBounds (its named parameters)."""

ROW_FIELDS: Final = tuple(column.name for column in COLUMNS if column.name != "id")


@dataclass(frozen=True)
class DossierStatusRow:
    """One dossier as an inspector sees it."""

    code: str
    version: int
    updated_at: datetime
    agency: str
    procedure_code: str | None
    procedure_name: str | None
    channel: Channel | None
    status: Status
    submitted_at: datetime | None
    received_at: datetime | None
    due_at: datetime | None
    original_due_at: datetime | None
    paused_at: datetime | None
    resolved_at: datetime | None
    returned_at: datetime | None
    finished_at: datetime | None
    supplement_requests: int
    extensions: int
    extended_after_due: bool
    outcome: Outcome | None
    electronic_result: bool | None
    settled_timeliness: Timeliness | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> DossierStatusRow:
        values = dict(row)
        values["status"] = Status(row["status"])
        values["channel"] = None if row["channel"] is None else Channel(row["channel"])
        values["outcome"] = None if row["outcome"] is None else Outcome(row["outcome"])
        settled = row["settled_timeliness"]
        values["settled_timeliness"] = None if settled is None else Timeliness(settled)
        return cls(**values)

    def timeliness(self, now: datetime, calendar: WorkCalendar) -> Timeliness | None:
        """early/on_time/late once finished; in_time/due_soon/overdue at `now` while open."""
        return classify(self, now, calendar)


@dataclass(frozen=True)
class DossierFilter:
    """Which dossiers a list shows; None means any. `timeliness` is judged at `now`;
    `min_extensions`: at least that many apology letters; `extended_after_due`: whether one of
    them came after the due date then in force."""

    agency: str | None = None
    procedure_code: str | None = None
    status: Status | None = None
    timeliness: Timeliness | None = None
    min_extensions: int | None = None
    extended_after_due: bool | None = None


@dataclass(frozen=True)
class DossierPage:
    """A page of a list in code order, the number of dossiers matching, and the `after` value
    that gives the next page (None on the last one)."""

    rows: list[DossierStatusRow]
    total: int
    next_after: str | None


def dossier_page(
    total_rows: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]], limit: int
) -> DossierPage:
    found = [DossierStatusRow.of(row) for row in rows]
    next_after = found[-1].code if found and len(found) == limit else None
    return DossierPage(found, total_rows[0]["total"] if total_rows else 0, next_after)


class DossierStatusView(DossierRowsView):
    columns = COLUMNS

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.index("by_agency", SQL("(agency, code)"))
        self.index("by_procedure", SQL("(procedure_code, code)"))
        self.index("by_status", SQL("(status, code)"))
        self.index("running_by_due", SQL("(original_due_at) WHERE {}").format(RUNNING))
        self.index(
            "settled", SQL("(settled_timeliness, code) WHERE settled_timeliness IS NOT NULL")
        )
        fields = SQL(", ").join(Identifier(name) for name in ROW_FIELDS)
        self._select_fields = SQL("SELECT {} FROM {}").format(fields, self.table)

    def get(self, code: str) -> DossierStatusRow | None:
        statement = self._select_fields + SQL(" WHERE code = %s")
        with self.datastore.get_connection() as connection:
            row = connection.execute(statement, (code,), prepare=True).fetchone()
        return None if row is None else DossierStatusRow.of(row)

    def list_dossiers(
        self,
        filters: DossierFilter,
        *,
        now: datetime,
        calendar: WorkCalendar,
        after: str | None = None,
        limit: int = 50,
    ) -> DossierPage:
        """The dossiers matching `filters`, `limit` at a time in code order, after code `after`."""
        count, select, parameters = self.list_statements(filters, now, calendar, after, limit)
        with self.datastore.get_connection() as connection:
            total_rows = connection.execute(count, parameters).fetchall()
            rows = connection.execute(select, parameters).fetchall()
        return dossier_page(total_rows, rows, limit)

    def list_statements(
        self,
        filters: DossierFilter,
        now: datetime,
        calendar: WorkCalendar,
        after: str | None,
        limit: int,
    ) -> tuple[Composed, Composed, dict[str, Any]]:
        """A list's two statements (its count, its page) and their parameters."""
        where, parameters = self._where(filters, OpenBounds.at(now, calendar))
        count = SQL("SELECT count(*) AS total FROM {} WHERE {}").format(self.table, where)
        page_where = where if after is None else where + SQL(" AND code > %(after)s")
        select = self._select_fields + SQL(" WHERE {} ORDER BY code LIMIT %(limit)s").format(
            page_where
        )
        parameters |= {"after": after, "limit": limit}
        return count, select, parameters

    async def list_dossiers_async(
        self,
        reads: AsyncReads,
        filters: DossierFilter,
        *,
        now: datetime,
        calendar: WorkCalendar,
        after: str | None = None,
        limit: int = 50,
    ) -> DossierPage:
        """`list_dossiers` on the asynchronous read pool (its two statements at once)."""
        count, select, parameters = self.list_statements(filters, now, calendar, after, limit)
        total_rows, rows = await asyncio.gather(
            reads.fetch(count, parameters), reads.fetch(select, parameters)
        )
        return dossier_page(total_rows, rows, limit)

    def supplemented(
        self, *, agency: str | None, received_from: datetime, received_before: datetime
    ) -> dict[str, tuple[int, int]]:
        """Per procedure: (dossiers received in [received_from, received_before), those of
        them asked for a supplement at least once) — the supplementation rate's figures."""
        where, parameters = self._where(
            DossierFilter(agency), OpenBounds(received_from, received_from, received_from)
        )
        statement = SQL(
            "SELECT procedure_code, count(*) AS received,"
            " count(*) FILTER (WHERE supplement_requests > 0) AS supplemented FROM {table}"
            " WHERE received_at >= %(received_from)s AND received_at < %(received_before)s"
            " AND procedure_code IS NOT NULL AND {where} GROUP BY procedure_code"
        ).format(table=self.table, where=where)
        parameters |= {"received_from": received_from, "received_before": received_before}
        with self.datastore.get_connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        return {row["procedure_code"]: (row["received"], row["supplemented"]) for row in rows}

    @staticmethod
    def _where(filters: DossierFilter, bounds: OpenBounds) -> tuple[Composed, dict[str, Any]]:
        clauses: list[Composed] = [SQL("TRUE").format()]
        parameters: dict[str, Any] = bounds.parameters()
        if filters.agency is not None:
            clauses.append(SQL("agency = %(agency)s").format())
            parameters["agency"] = filters.agency
        if filters.procedure_code is not None:
            clauses.append(SQL("procedure_code = %(procedure_code)s").format())
            parameters["procedure_code"] = filters.procedure_code
        if filters.status is not None:
            clauses.append(SQL("status = %(status)s").format())
            parameters["status"] = int(filters.status)
        if filters.timeliness is not None:
            clauses.append(TIMELINESS_PREDICATES[filters.timeliness])
        if filters.min_extensions is not None:
            clauses.append(SQL("extensions >= %(min_extensions)s").format())
            parameters["min_extensions"] = filters.min_extensions
        if filters.extended_after_due is not None:
            clauses.append(SQL("extended_after_due = %(extended_after_due)s").format())
            parameters["extended_after_due"] = filters.extended_after_due
        return SQL(" AND ").join(clauses), parameters


class DossierStatusProjection(PagedProjection[DossierStatusView]):
    name = DOSSIER_STATUS
