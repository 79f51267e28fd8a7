"""The ingest writer: group commit of dossier events.

Requests do not each take the table lock. One writer thread drains a queue: it takes every pending
submission (up to a batch size), loads the dossiers involved, applies the events (refusing invalid
ones individually) and saves them all in one transaction: one lock, one disk flush. Each request
waits on its own future and gets one outcome per event.

The writer holds its own autocommit connection and spends as few round trips on a group as it
can, because each one is a wait for the disk or the server during which the requests of the next
group queue up: a group whose dossiers are all in the cache, or new (an opening event for a code
the writer has not seen), costs one statement, the append function, which locks, inserts and
commits. A dossier assumed new that exists after all (another process wrote it) makes the append
fail on the version's unique key; the group is then applied again on the database's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from application.database import DatabaseUnavailable
from application.ledger import DossierLedger
from domain.code import DossierCode
from domain.commands import EventCommand, Rules
from domain.dossier import Dossier, dossier_id, record
from domain.errors import DomainError
from domain.status import OPENING_EVENTS, Status

_log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class Submission:
    """One event a handling system asks the ledger to append to one dossier."""

    code: DossierCode
    command: EventCommand
    expected_version: int | None = None


@dataclass(frozen=True)
class Appended:
    """The event is in the ledger (now, or already before when `already` is true)."""

    code: DossierCode
    event_id: str
    version: int
    position: int | None  # the notification id; None for `already` until looked up
    already: bool
    status: Status | None = None  # after this event (for `already`: looked up on demand)
    due_at: datetime | None = None


Outcome = Appended | DomainError


class _RefusedOnCachedState(Exception):
    """A refusal judged on a cached dossier: to be judged again on the database's state."""


class WriterStopped(RuntimeError):
    """The writer is not running (the process is shutting down)."""


@dataclass
class _Request:
    """Submissions and who waits for their outcomes: a thread, or a task on an event loop."""

    submissions: Sequence[Submission]
    future: Future[list[Outcome]] | asyncio.Future[list[Outcome]]
    loop: asyncio.AbstractEventLoop | None = None


def _settle(
    items: list[tuple[asyncio.Future[list[Outcome]], list[Outcome] | BaseException]],
) -> None:
    """On the event loop: settle the futures of its requests (a waiter may have given up)."""
    for future, result in items:
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


class WriterConnection:
    """The writer's own autocommit connection: opened on first use, and again after a failure."""

    def __init__(self, ledger: DossierLedger, connect_timeout: int = 5) -> None:
        pool: Any = ledger.recorder.datastore.pool  # type: ignore[attr-defined]
        self._kwargs = {key: value for key, value in pool.kwargs.items() if key != "row_factory"}
        self._kwargs.update(autocommit=True, connect_timeout=connect_timeout)
        self._connection: psycopg.Connection[Any] | None = None

    def get(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(**self._kwargs)
        return self._connection

    def discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class DossierCache:
    """The dossiers the writer touched lately, at the version it saved (LRU)."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._items: OrderedDict[UUID, Dossier] = OrderedDict()

    def get(self, key: UUID) -> Dossier | None:
        dossier = self._items.get(key)
        if dossier is not None:
            self._items.move_to_end(key)
        return dossier

    def put(self, key: UUID, dossier: Dossier) -> None:
        self._items[key] = dossier
        self._items.move_to_end(key)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)

    def evict(self, keys: Iterable[UUID]) -> None:
        for key in keys:
            self._items.pop(key, None)


class IngestWriter:
    def __init__(
        self,
        ledger: DossierLedger,
        rules: Rules,
        *,
        max_batch_events: int = 2000,
        cache_size: int = 50_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ledger = ledger
        self.rules = rules
        self.max_batch_events = max_batch_events
        self.clock = clock
        self.cache = DossierCache(cache_size)
        self.connection = WriterConnection(ledger)
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._running = False
        self.groups_committed = 0
        self.events_committed = 0

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._running = False
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._thread = None
        self.connection.discard()

    def submit(self, submissions: Sequence[Submission]) -> asyncio.Future[list[Outcome]]:
        """For a task on an event loop: await the outcomes, one per submission, in order.

        The writer wakes each event loop once per group, however many of its requests the group
        holds (a wake-up is a system call and a pass of the loop).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Outcome]] = loop.create_future()
        if not self._running:
            future.set_exception(WriterStopped("the ingest writer is not running"))
            return future
        self._queue.put(_Request(submissions, future, loop))
        return future

    def append(self, submissions: Sequence[Submission], timeout: float = 60) -> list[Outcome]:
        """Submit and wait: for callers that are threads, such as `ledger demo`."""
        future: Future[list[Outcome]] = Future()
        if not self._running:
            raise WriterStopped("the ingest writer is not running")
        self._queue.put(_Request(submissions, future))
        return future.result(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            size = len(first.submissions)
            while size < self.max_batch_events:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._running = False
                    break
                group.append(item)
                size += len(item.submissions)
            self._commit_group(group)
            if not self._running:
                break
        self._fail_pending()

    def _fail_pending(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._deliver([(item, WriterStopped("the ingest writer stopped"))])

    def _commit_group(self, group: list[_Request]) -> None:
        submissions = [s for request in group for s in request.submissions]
        try:
            outcomes = self._append_with_retries(submissions)
        except Exception as error:  # every request of the group learns of the failure
            _log.exception("group commit of %d events failed", len(submissions))
            self._deliver([(request, error) for request in group])
            return
        results: list[tuple[_Request, list[Outcome] | BaseException]] = []
        start = 0
        for request in group:
            end = start + len(request.submissions)
            results.append((request, outcomes[start:end]))
            start = end
        self._deliver(results)

    @staticmethod
    def _deliver(results: list[tuple[_Request, list[Outcome] | BaseException]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for request, result in results:
            if request.loop is not None:
                by_loop.setdefault(request.loop, []).append((request.future, result))
            elif isinstance(result, BaseException):
                request.future.set_exception(result)
            else:
                request.future.set_result(result)
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, items)

    def _append_with_retries(self, submissions: Sequence[Submission]) -> list[Outcome]:
        """Append, redoing the group from the database when another process got in between.

        A conflict on save (another writer appended first, or a dossier assumed new exists) and
        a refusal judged on a cached or assumed state (which another writer may have moved on)
        both mean: forget the group's dossiers, reload them and apply the group again. Refusals
        are final only on freshly loaded state. A lost connection is retried once on a new one:
        safe, since an append that did commit is then found in the database (already_appended).
        """
        trust_cache = True
        reconnected = False
        for attempt in range(MAX_CONFLICT_RETRIES):
            try:
                return self._append(submissions, trust_cache=trust_cache)
            except psycopg.IntegrityError:
                _log.info("conflict with another writer, retrying (attempt %d)", attempt + 1)
            except _RefusedOnCachedState:
                pass
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                self.connection.discard()
                if reconnected:
                    raise DatabaseUnavailable(f"the database is unreachable: {error}") from None
                reconnected = True
            trust_cache = False
            # The dossiers in memory may hold this attempt's unsaved events: drop them all.
            self.cache.evict({dossier_id(s.code) for s in submissions})
        return self._append(submissions, trust_cache=False)

    def _append(self, submissions: Sequence[Submission], *, trust_cache: bool) -> list[Outcome]:
        keys = [dossier_id(s.code) for s in submissions]
        dossiers, provisional = self._load(keys, submissions, trust_cache=trust_cache)
        recorded_at = self.clock()
        outcomes: list[Outcome] = []
        changed: dict[UUID, Dossier] = {}
        for key, submission in zip(keys, submissions, strict=True):
            try:
                result = record(
                    dossiers.get(key),
                    submission.code,
                    submission.command,
                    self.rules,
                    recorded_at,
                    submission.expected_version,
                )
            except DomainError as refusal:
                if key in provisional:
                    raise _RefusedOnCachedState from refusal
                outcomes.append(refusal)
                continue
            dossiers[key] = result.dossier
            if not result.already_recorded:
                changed[key] = result.dossier
            outcomes.append(
                Appended(
                    code=submission.code,
                    event_id=submission.command.event_id,
                    version=result.version,
                    position=None,
                    already=result.already_recorded,
                    status=None if result.already_recorded else result.dossier.status,
                    due_at=None if result.already_recorded else result.dossier.due_at,
                )
            )
        positions = self._save(changed)
        self.groups_committed += 1
        self.events_committed += len(positions)
        return [
            replace(outcome, position=positions[(key, outcome.version)])
            if isinstance(outcome, Appended) and not outcome.already
            else outcome
            for key, outcome in zip(keys, outcomes, strict=True)
        ]

    def _save(self, changed: dict[UUID, Dossier]) -> dict[tuple[UUID, int], int]:
        if not changed:
            return {}
        pending = [event for dossier in changed.values() for event in dossier.collect_events()]
        to_stored = self.ledger.mapper.to_stored_event
        stored = [to_stored(event) for event in pending]
        try:
            ids = self.ledger.recorder.append(self.connection.get(), stored)  # type: ignore[attr-defined]
        except BaseException:
            # The dossiers in memory are ahead of the database now: forget them.
            self.cache.evict(changed)
            raise
        for key, dossier in changed.items():
            self.cache.put(key, dossier)
        return {
            (cast(UUID, event.originator_id), event.originator_version): notification_id
            for event, notification_id in zip(stored, ids, strict=True)
        }

    def _load(
        self, keys: list[UUID], submissions: Sequence[Submission], *, trust_cache: bool
    ) -> tuple[dict[UUID, Dossier], set[UUID]]:
        """The dossiers (absent: not in the ledger yet), and which of them are provisional.

        Provisional: taken from the cache, or assumed new because the group opens them with an
        opening event and the cache does not know them; a refusal judged on such a state is
        judged again on the database's.
        """
        found: dict[UUID, Dossier] = {}
        provisional: set[UUID] = set()
        missing: list[UUID] = []
        seen: set[UUID] = set()
        for key, submission in zip(keys, submissions, strict=True):
            if key in seen:
                continue
            seen.add(key)
            cached = self.cache.get(key) if trust_cache else None
            if cached is not None:
                found[key] = cached
                provisional.add(key)
            elif trust_cache and submission.command.type in OPENING_EVENTS:
                provisional.add(key)
            else:
                missing.append(key)
        if missing:
            for dossier in self._load_from_database(missing):
                found[dossier.id] = dossier
                self.cache.put(dossier.id, dossier)
        return found, provisional

    def _load_from_database(self, ids: list[UUID]) -> list[Dossier]:
        """Replay many dossiers with one query rather than one per dossier."""
        recorder: Any = self.ledger.recorder
        statement = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(sql.Identifier(recorder.events_table_name))
        rows = self.connection.get().execute(statement, (ids,)).fetchall()
        dossiers: list[Dossier] = []
        current: Dossier | None = None
        for originator_id, version, topic, state in rows:
            event: CanMutateAggregate[UUID] = self.ledger.mapper.to_domain_event(  # type: ignore[assignment]
                StoredEvent(originator_id, version, topic, bytes(state))
            )
            if current is None or current.id != originator_id:
                current = cast(Dossier, event.mutate(None))
                assert current is not None
                dossiers.append(current)
            else:
                event.mutate(current)
        return dossiers
