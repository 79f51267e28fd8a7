"""A read model's tables and its tracking position, written one page of events at a time.

Exactly once. A page's rows and the position of its last event are written in ONE transaction,
and the page is applied only when the position tracked in the database, read in that same
transaction under the read model's advisory lock, is the position the page was read after. So:

- a crash loses nothing and doubles nothing: rows and position commit or roll back together;
- a second runner of the same read model, or a rebuild that swapped new tables in (see
  `projections.rebuild`), makes a page stale: it is not applied, and the runner reads again from
  the tracked position.

Events are read in notification-id order, which is commit order (every insert takes the events
table's lock), so the events after a position are all there once the first of them is visible;
ids have gaps (rolled-back inserts), which is why a page records the id of its last notification
rather than counting.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from domain.calendar import WorkCalendar
from domain.dossier import Dossier

TRACKING_SUFFIX = "_tracking"

PAGE_IDLE_TIMEOUT_SECONDS = 60
"""How long a read model's page transaction may sit between two statements before the server
ends it: between loading a page's rows and writing them back it computes in Python, which on a
loaded machine took longer than eventsourcing's default of 5 s (the page failed, and was tried
again for nothing). A projector that hangs holds its read model's lock at most this long."""


@dataclass(frozen=True)
class Page:
    """Consecutive dossier events of the ledger, read after position `after`.

    `tracking` names the ledger and the id of the page's last notification (which may be an
    event the read models ignore). `after` is None when unknown (one event handed over by
    eventsourcing's own runner): then only events beyond the tracked position are applied.
    """

    after: int | None
    events: Sequence[Dossier.Event]
    tracking: Tracking


def advisory_lock_key(name: str) -> int:
    """A stable 64-bit key for pg_advisory_xact_lock, one per read model's tables."""
    digest = hashlib.blake2b(f"ledger-projection:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PagedView(PostgresTrackingRecorder):
    """A PostgreSQL read model with exactly-once tracking (see the module docstring).

    Its tables are named after the tracking table's name less `_tracking` (`base_name`): the
    live tables for `dossier_status`, new ones for `dossier_status__rebuild`.
    """

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.base_name = tracking_table_name.removesuffix(TRACKING_SUFFIX)
        self.lock_key = advisory_lock_key(self.base_name)
        self._lock_statement = SQL("SELECT pg_advisory_xact_lock(%s)")
        self._position_statement = SQL(
            "SELECT notification_id FROM {} WHERE application_name = %s FOR UPDATE"
        ).format(self.qualified(tracking_table_name))

    def qualified(self, table: str) -> Composed:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(table))

    @property
    @abstractmethod
    def read_model_tables(self) -> tuple[str, ...]:
        """The read model's own tables (its tracking table aside)."""

    @property
    def table_names(self) -> tuple[str, ...]:
        """Every table of the read model, its tracking table last."""
        return (*self.read_model_tables, self.tracking_table_name)

    decodes_events = True
    """False for a view that needs only the page's bounds (the audit log reads stored rows)."""

    def position(self, application_name: str) -> int:
        """The id of the last notification applied (0: none yet)."""
        return self.max_tracking_id(application_name) or 0

    def apply_page(self, page: Page, calendar: WorkCalendar) -> bool:
        """Write the page's rows and its tracking position in one transaction.

        False when the page is stale (the tracked position is not the one it was read after):
        nothing is written, and the caller reads again from `position()`.
        """
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(self._lock_statement, (self.lock_key,), prepare=True)
                cursor.execute(
                    self._position_statement, (page.tracking.application_name,), prepare=True
                )
                row = cursor.fetchone()
                tracked = 0 if row is None else row["notification_id"] or 0
                if page.after is not None and page.after != tracked:
                    return False
                if page.tracking.notification_id <= tracked:
                    return True  # one event handed over again: it is in already
                self.page_begins(tracked)
                if page.events:
                    self.write(cursor, page.events, calendar)
                self._insert_tracking(cursor, page.tracking)
        except BaseException:
            self.discard_unsaved()
            raise
        self.saved(page.tracking.notification_id)
        return True

    @abstractmethod
    def write(
        self, cursor: Cursor[DictRow], events: Sequence[Dossier.Event], calendar: WorkCalendar
    ) -> None:
        """Apply the events (in notification order) to the read model's rows."""

    def page_begins(self, tracked: int) -> None:
        """A page after position `tracked` is about to be written, in the open transaction."""

    def saved(self, position: int) -> None:
        """The page up to `position` is committed (a view may keep what it wrote in memory)."""

    def discard_unsaved(self) -> None:
        """The page's transaction failed: forget anything kept from it."""


TView = TypeVar("TView", bound=PagedView)


class PagedProjection(Projection[TView]):
    """An eventsourcing Projection whose events go to its view a page at a time.

    The work calendar comes from the caller (the operator's overrides included): classification
    and working-day figures depend on it.
    """

    def __init__(self, view: TView, calendar: WorkCalendar) -> None:
        super().__init__(view)
        self.calendar = calendar

    def process_page(self, page: Page) -> bool:
        return self.view.apply_page(page, self.calendar)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """One event (eventsourcing's ProjectionRunner calls this): a page of one."""
        events = [domain_event] if isinstance(domain_event, Dossier.Event) else []
        self.process_page(Page(after=None, events=events, tracking=tracking))
