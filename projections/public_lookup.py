"""The `public_lookup` read model: per dossier, only what the public may see.

Code, status, procedure (code and name), agency, received_at, due_at, updated_at, the facts
that classify its timeliness (original_due_at, paused_at, finished_at, supplement_requests), and
the digest of the lookup secret to check the one a caller presents. Never the actor, the source
system, the applicant's reference, reasons or notes: they are not even in the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

from application.reads import AsyncReads
from domain.calendar import WorkCalendar
from domain.status import Status
from domain.timeliness import Timeliness, classify
from projections.dossier_rows import IDENTITY_COLUMNS, DossierRowsView, attribute
from projections.names import PUBLIC_LOOKUP
from projections.view import PagedProjection

COLUMNS: Final = (
    *IDENTITY_COLUMNS,
    attribute("agency", "text", "NOT NULL"),
    attribute("status", "smallint", "NOT NULL"),
    attribute("procedure_code", "text"),
    attribute("procedure_name", "text"),
    attribute("received_at", "timestamptz"),
    attribute("due_at", "timestamptz"),
    attribute("original_due_at", "timestamptz"),
    attribute("paused_at", "timestamptz"),
    attribute("finished_at", "timestamptz"),
    attribute("supplement_requests", "integer", "NOT NULL"),
    attribute("lookup_secret_digest", "text"),
)

PUBLIC_FIELDS: Final = tuple(column.name for column in COLUMNS if column.name != "id")


@dataclass(frozen=True)
class PublicDossier:
    """What the public may see of one dossier, and the digest its lookup secret must match."""

    code: str
    version: int
    updated_at: datetime
    agency: str
    status: Status
    procedure_code: str | None
    procedure_name: str | None
    received_at: datetime | None
    due_at: datetime | None
    original_due_at: datetime | None
    paused_at: datetime | None
    finished_at: datetime | None
    supplement_requests: int
    lookup_secret_digest: str | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> PublicDossier:
        return cls(**{**row, "status": Status(row["status"])})

    def timeliness(self, now: datetime, calendar: WorkCalendar) -> Timeliness | None:
        return classify(self, now, calendar)


class PublicLookupView(DossierRowsView):
    columns = COLUMNS

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        fields = SQL(", ").join(Identifier(name) for name in PUBLIC_FIELDS)
        self._select_by_code = SQL("SELECT {} FROM {} WHERE code = %s").format(fields, self.table)
        # Composed to bytes once (the asynchronous lookups' statement): psycopg composes an SQL
        # object again at every execution, a twentieth of a lookup's time.
        self.select_by_codes = (
            SQL("SELECT {} FROM {} WHERE code = ANY(%s)").format(fields, self.table).as_bytes(None)
        )

    def get(self, code: str) -> PublicDossier | None:
        """The dossier with this code; the caller checks the secret against its digest."""
        with self.datastore.get_connection() as connection:
            row = connection.execute(self._select_by_code, (code,), prepare=True).fetchone()
        return None if row is None else PublicDossier.of(row)


class PublicLookups:
    """The public lookup's rows on the asynchronous read pool, the codes asked at about the
    same time in one statement (application.reads)."""

    def __init__(self, view: PublicLookupView, reads: AsyncReads) -> None:
        self.view = view
        self.reads = reads
        self._keyed = reads.keyed(self._fetch)

    async def get(self, code: str) -> PublicDossier | None:
        """`PublicLookupView.get`, awaited."""
        return await self._keyed.get(code)

    async def _fetch(self, codes: list[str]) -> dict[str, PublicDossier]:
        rows = await self.reads.fetch(self.view.select_by_codes, (codes,))
        return {row["code"]: PublicDossier.of(row) for row in rows}


class PublicLookupProjection(PagedProjection[PublicLookupView]):
    name = PUBLIC_LOOKUP
