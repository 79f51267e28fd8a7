"""The projection runner: the ledger's events, a page per transaction, into read models.

eventsourcing's ProjectionRunner commits once per event, and a commit waits for the disk's flush
(a few hundred a second here). This runner reads up to `page_size` notifications after the
lowest position of its read models (`select_page_rows`: one statement), decodes them once with
the ledger's mapper, and hands the same decoded page to every read model, each applying the
events beyond its own position in a transaction of its own with the id of the page's last
notification (projections.view says why that stays exactly-once). The read models of a runner
apply a page at the same time (a thread each), and the next page is read and decoded meanwhile,
so the database's work overlaps Python's. Caught up, it waits for new events with LISTEN on the
events table's channel (the recorder NOTIFYs it on every insert), with a timeout of
`poll_interval` that doubles as the polling fallback and bounds how long `stop()` takes.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from eventsourcing.persistence import Tracking
from psycopg.sql import SQL, Identifier

from application.ledger import DossierLedger
from application.mapper import MsgspecMapper
from application.recorder import LedgerRecorder
from domain.dossier import Dossier
from projections.names import DEFAULT_PAGE_SIZE
from projections.view import Page, PagedProjection

_log = logging.getLogger(__name__)
MAX_RETRY_DELAY = 30.0


@dataclass(frozen=True)
class ReadPage:
    """Notifications read after `after`: the id of the last (0: none), the dossier events
    decoded (None: not decoded, no read model wanted them) and their notification ids."""

    after: int
    count: int
    last: int
    events: list[Dossier.Event] | None
    event_ids: list[int]


@dataclass
class _Model:
    """A read model of a runner: where it stands, and when it may try again after a failure."""

    projection: PagedProjection[Any]
    position: int
    retry_at: float = 0.0  # time.monotonic(); 0: not failing
    delay: float = 0.0


class ProjectionRunner:
    """Keeps read models up to date from one reader, in a thread (`start`/`stop`) or on demand
    (`catch_up`).

    `listen_url`: a PostgreSQL URL to LISTEN on (None: poll every `poll_interval` seconds).
    `on_stop`: what to close once stopped (the ledger and the views when the runner owns them).
    `freeze_after_page`: in a process of its own (a projector, `ledger rebuild`), move what a
    page leaves alive out of the garbage collector's reach (`gc.freeze`). What outlives a page
    is the read models' caches of dossiers, which the collector otherwise walks again and again
    as they grow: at a million events, timeliness caught up 22,400 -> 25,800 events/s. Cyclic
    garbage that happens to be young at that moment is never collected: 78 objects over six
    catch-ups of a million events, so not where the API's requests run.
    """

    def __init__(
        self,
        projections: Sequence[PagedProjection[Any]],
        ledger: DossierLedger,
        *,
        listen_url: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        poll_interval: float = 0.5,
        on_stop: Sequence[Callable[[], None]] = (),
        freeze_after_page: bool = False,
    ) -> None:
        if not projections:
            raise ValueError("a runner needs at least one read model")
        self.ledger = ledger
        self.listen_url = listen_url
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.on_stop = on_stop
        self.freeze_after_page = freeze_after_page
        self.events_applied = 0
        self.last_error: BaseException | None = None
        self._models = [
            _Model(projection, projection.view.position(ledger.name)) for projection in projections
        ]
        self._decodes = any(model.projection.view.decodes_events for model in self._models)
        self._recorder = cast(LedgerRecorder, ledger.recorder)
        self._mapper = cast(MsgspecMapper, ledger.mapper)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: psycopg.Connection[Any] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._next: Future[ReadPage] | None = None

    @property
    def name(self) -> str:
        return "+".join(model.projection.name for model in self._models)

    def position(self) -> int:
        """The id of the last notification every read model applied (or found applied)."""
        return min(model.position for model in self._models)

    def positions(self) -> dict[str, int]:
        return {model.projection.name: model.position for model in self._models}

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
        self.close_threads()
        for close in self.on_stop:
            close()

    def close_threads(self) -> None:
        """Let the helper threads go (a later page starts them again)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._next = None

    def step(self) -> bool:
        """Apply the next page, if any. True when more events may be waiting already.

        A read model whose page failed while others' did not sits out until its retry is due
        (doubling up to MAX_RETRY_DELAY): the others go on without it, and it catches up from
        its own position when it tries again (a runner of one read model raises the failure
        for its own retry instead)."""
        now = time.monotonic()
        active = [model for model in self._models if model.retry_at <= now]
        if not active:
            return False
        page = self._take_page(min(model.position for model in active))
        if page.count == 0:
            return False
        if page.count == self.page_size:  # read the next page while this one is written
            self._next = self._threads().submit(self._read, page.last)
        waiting = [model for model in active if model.position < page.last]
        fresh = self._apply_all(waiting, page)
        if self.freeze_after_page:
            gc.freeze()
        self.events_applied += page.count
        return page.count == self.page_size or not fresh

    def _take_page(self, after: int) -> ReadPage:
        ahead, self._next = self._next, None
        if ahead is not None:
            page = ahead.result()
            if page.after == after:
                return page
        return self._read(after)

    def _read(self, after: int) -> ReadPage:
        if not self._decodes:
            ids = self._recorder.select_page_ids(after, self.page_size)
            return ReadPage(after, len(ids), ids[-1] if ids else 0, None, [])
        rows = self._recorder.select_page_rows(after, self.page_size)
        events: list[Dossier.Event] = []
        event_ids: list[int] = []
        decode = self._mapper.decode
        for notification_id, originator_id, version, topic, state in rows:
            event = decode(topic, originator_id, version, state)
            if isinstance(event, Dossier.Event):
                events.append(event)
                event_ids.append(notification_id)
        return ReadPage(after, len(rows), rows[-1][0] if rows else 0, events, event_ids)

    def _apply_all(self, models: list[_Model], page: ReadPage) -> bool:
        """Every model's share of the page, at once (a thread each); False if one was stale."""
        if len(models) == 1 and len(self._models) == 1:
            return self._apply(models[0], page)
        pool = self._threads()
        others = [pool.submit(self._apply, model, page) for model in models[1:]]
        outcomes: list[bool | Exception] = []
        try:
            outcomes.append(self._apply(models[0], page))
        except Exception as failure:
            outcomes.append(failure)
        for future in others:
            try:
                outcomes.append(future.result())
            except Exception as failure:
                outcomes.append(failure)
        fresh = True
        for model, outcome in zip(models, outcomes, strict=True):
            if isinstance(outcome, Exception):
                self._sit_out(model, outcome)
                fresh = False
            else:
                model.retry_at, model.delay = 0.0, 0.0
                fresh = outcome and fresh
        return fresh

    def _sit_out(self, model: _Model, failure: Exception) -> None:
        model.delay = min(max(model.delay * 2, self.poll_interval), MAX_RETRY_DELAY)
        model.retry_at = time.monotonic() + model.delay
        self.last_error = failure
        _log.error(
            "%s: a page failed (%s: %s); the other read models go on, it retries in %.1f s",
            model.projection.name,
            type(failure).__name__,
            failure,
            model.delay,
            exc_info=failure,
        )

    def _apply(self, model: _Model, page: ReadPage) -> bool:
        events: Sequence[Dossier.Event] = ()
        if page.events is not None:
            events = page.events
            if model.position > page.after:  # it was ahead of another: only its events' share
                events = events[bisect_right(page.event_ids, model.position) :]
        projection = model.projection
        tracking = Tracking(self.ledger.name, page.last)
        if not projection.process_page(Page(model.position, events, tracking)):
            _log.info("%s: page after %s is stale, reading again", projection.name, model.position)
            model.position = projection.view.position(self.ledger.name)
            return False
        model.position = page.last
        return True

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(self._models), f"projection-{self.name}")
        return self._pool

    def catch_up(self, until: int, on_page: Callable[[int], None] | None = None) -> None:
        """Apply pages until the position reaches `until` (or no event is left)."""
        try:
            while self.position() < until and not self._stopping.is_set():
                more = self.step()
                if on_page is not None:
                    on_page(self.position())
                if not more and self.position() < until:
                    return
        finally:
            self.close_threads()

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
