"""The projection runner: the ledger's events, a page per transaction, into one read model.

eventsourcing's ProjectionRunner commits once per event, and a commit waits for the disk's flush
(a few hundred a second here). This runner reads up to `page_size` notifications after the read
model's position (`select_page`: one statement), maps them with the ledger's mapper, and has the
projection apply the whole page in one transaction with the id of its last notification
(projections.view says why that stays exactly-once). Caught up, it waits for new events with
LISTEN on the events table's channel (the recorder NOTIFYs it on every insert), with a timeout of
`poll_interval` that doubles as the polling fallback and bounds how long `stop()` takes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, cast

import psycopg
from eventsourcing.persistence import Tracking
from psycopg.sql import SQL, Identifier

from application.ledger import DossierLedger
from application.recorder import LedgerRecorder
from domain.dossier import Dossier
from projections.names import DEFAULT_PAGE_SIZE
from projections.view import Page, PagedProjection, PagedView

_log = logging.getLogger(__name__)
MAX_RETRY_DELAY = 30.0


class ProjectionRunner:
    """Keeps one read model up to date, in a thread (`start`/`stop`) or on demand (`catch_up`).

    `listen_url`: a PostgreSQL URL to LISTEN on (None: poll every `poll_interval` seconds).
    `on_stop`: what to close once stopped (the ledger and the view when the runner owns them).
    """

    def __init__(
        self,
        projection: PagedProjection[Any],
        ledger: DossierLedger,
        *,
        listen_url: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        poll_interval: float = 0.5,
        on_stop: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.projection = projection
        self.ledger = ledger
        self.listen_url = listen_url
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.on_stop = on_stop
        self.events_applied = 0
        self.last_error: BaseException | None = None
        self._position = self.view.position(ledger.name)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: psycopg.Connection[Any] | None = None

    @property
    def name(self) -> str:
        return self.projection.name

    @property
    def view(self) -> PagedView:
        view: PagedView = self.projection.view
        return view

    def position(self) -> int:
        """The id of the last notification this runner applied (or found applied)."""
        return self._position

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"projection-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Stop after the page in hand (within `poll_interval` when idle) and close what it owns."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_listener()
        for close in self.on_stop:
            close()

    def step(self) -> bool:
        """Apply the next page, if any. True when more events may be waiting already."""
        after = self._position
        recorder = cast(LedgerRecorder, self.ledger.recorder)
        if not self.view.decodes_events:
            ids = recorder.select_page_ids(after, self.page_size)
            if not ids:
                return False
            return self._apply(Page(after, [], Tracking(self.ledger.name, ids[-1])), len(ids))
        notifications = recorder.select_page(after, self.page_size)
        if not notifications:
            return False
        events = []
        for notification in notifications:
            event = self.ledger.mapper.to_domain_event(notification)
            if isinstance(event, Dossier.Event):
                events.append(event)
        page = Page(after, events, Tracking(self.ledger.name, notifications[-1].id))
        return self._apply(page, len(notifications))

    def _apply(self, page: Page, notifications: int) -> bool:
        if not self.projection.process_page(page):
            _log.info("%s: page after %s is stale, reading again", self.name, page.after)
            self._position = self.view.position(self.ledger.name)
            return True
        self._position = page.tracking.notification_id
        self.events_applied += notifications
        return notifications == self.page_size

    def catch_up(self, until: int, on_page: Callable[[int], None] | None = None) -> None:
        """Apply pages until the position reaches `until` (or no event is left)."""
        while self._position < until and not self._stopping.is_set():
            more = self.step()
            if on_page is not None:
                on_page(self._position)
            if not more and self._position < until:
                return

    def _run(self) -> None:
        delay = self.poll_interval
        while not self._stopping.is_set():
            try:
                more = self.step()
            except Exception as error:
                self.last_error = error
                _log.exception("%s: a page failed; retrying in %.1f s", self.name, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)
                continue
            delay = self.poll_interval
            if not more:
                self._wait_for_events()

    def _wait_for_events(self) -> None:
        listener = self._listening()
        if listener is None:
            self._stopping.wait(self.poll_interval)
            return
        try:
            for _notify in listener.notifies(timeout=self.poll_interval, stop_after=1):
                pass
        except psycopg.Error:
            _log.warning("%s: the LISTEN connection failed; polling until it is back", self.name)
            self._close_listener()
            self._stopping.wait(self.poll_interval)

    def _listening(self) -> psycopg.Connection[Any] | None:
        if self._listener is None and self.listen_url is not None:
            try:
                connection = psycopg.connect(self.listen_url, autocommit=True, connect_timeout=10)
                channel = Identifier(self.ledger.recorder.channel_name)  # type: ignore[attr-defined]
                connection.execute(SQL("LISTEN {}").format(channel))
            except psycopg.Error:
                _log.warning("%s: cannot LISTEN; polling instead", self.name)
                return None
            self._listener = connection
        return self._listener

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
