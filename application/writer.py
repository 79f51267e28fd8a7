"""The ingest writer: group commit of dossier events.

Requests do not each take the table lock. One writer drains a queue: it takes every pending
submission (up to a batch size), loads the dossiers involved, applies the events (refusing invalid
ones individually) and saves them all in one transaction: one lock, one disk flush. Each request
waits on its own future and gets one outcome per event.

The group commit is written once, without I/O (`GroupCommit.commit`, a generator that yields the
two statements it needs and receives their results), and driven once: `AsyncIngestWriter`, a task
on the API's event loop with an asynchronous connection. Callers that are threads (`ledger demo`,
benchmarks, tests) use the same writer on an event loop of its own (`IngestWriter`). On the event
loop, the writer never competes with the HTTP side for the interpreter lock: a thread that waits
for PostgreSQL must win the lock back from a busy event loop (up to 5 ms, Python's switch
interval) after every wait, and those waits, not the CPU, bounded single posts when the writer
was a thread.

The writer holds its own autocommit connection and spends as few round trips on a group as it
can, because each one is a wait for the disk or the server during which the requests of the next
group queue up: a group whose dossiers are all in the cache, or new (an opening event for a code
the writer has not seen), costs one statement, the append function, which locks, inserts and
commits. A dossier assumed new that exists after all (another process wrote it) makes the append
fail on the version's unique key; the group is then applied again on the database's state.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast
from uuid import UUID

import psycopg
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from application.database import DatabaseUnavailable
from application.ledger import DossierLedger
from application.recorder import LedgerRecorder
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


@dataclass(slots=True)
class Appended:
    """The event is in the ledger (now, or already before when `already` is true).

    The writer fills in `position` once the group is saved; to everyone else it is read-only.
    """

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
    """Submissions and the future their outcomes go to (a thread's or the event loop's)."""

    submissions: Sequence[Submission]
    future: Any  # concurrent.futures.Future or asyncio.Future of list[Outcome]


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


class _Load(NamedTuple):
    """I/O the group commit asks for: the stored events of these dossiers, in version order."""

    ids: list[UUID]


class _Append(NamedTuple):
    """I/O the group commit asks for: append these events (one statement, its own commit)."""

    stored: list[StoredEvent]


class _Done(NamedTuple):
    """The group commit has finished: its outcomes."""

    outcomes: list[Outcome]


_Io = _Load | _Append
_Steps = Generator[_Io, Any, list[Outcome]]
_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def _resume(steps: _Steps, result: Any = None, error: psycopg.Error | None = None) -> _Io | _Done:
    """Hand the group commit the result of its last I/O, or the error it raised: its next I/O,
    or its outcomes. The drivers (a thread's, the event loop's) differ only in how they wait."""
    try:
        return steps.throw(error) if error is not None else steps.send(result)
    except StopIteration as done:
        return _Done(cast(list[Outcome], done.value))


class GroupCommit:
    """What both writers do with a group of submissions, as a generator of the I/O it needs."""

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
        self.groups_committed = 0
        self.events_committed = 0
        recorder: Any = ledger.recorder
        self.recorder: LedgerRecorder = recorder
        self.load_statement = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(sql.Identifier(recorder.events_table_name))
        pool: Any = recorder.datastore.pool
        self.connect_kwargs = {k: v for k, v in pool.kwargs.items() if k != "row_factory"}
        self.connect_kwargs.update(autocommit=True, connect_timeout=5)

    def commit(self, submissions: Sequence[Submission]) -> _Steps:
        """Append, redoing the group from the database when another process got in between.

        A conflict on save (another writer appended first, or a dossier assumed new exists) and
        a refusal judged on a cached or assumed state (which another writer may have moved on)
        both mean: forget the group's dossiers, reload them and apply the group again. Refusals
        are final only on freshly loaded state. A lost connection is retried once on a new one
        (the driver reconnects): safe, since an append that did commit is then found in the
        database and answered already_appended.
        """
        trust_cache = True
        reconnected = False
        for attempt in range(MAX_CONFLICT_RETRIES):
            try:
                return (yield from self._attempt(submissions, trust_cache=trust_cache))
            except psycopg.IntegrityError:
                _log.info("conflict with another writer, retrying (attempt %d)", attempt + 1)
            except _RefusedOnCachedState:
                pass
            except _CONNECTION_ERRORS as error:
                if reconnected:
                    raise DatabaseUnavailable(f"the database is unreachable: {error}") from None
                reconnected = True
            trust_cache = False
            # The dossiers in memory may hold this attempt's unsaved events: drop them all.
            self.cache.evict({dossier_id(s.code) for s in submissions})
        return (yield from self._attempt(submissions, trust_cache=False))

    def _attempt(self, submissions: Sequence[Submission], *, trust_cache: bool) -> _Steps:
        keys = [dossier_id(s.code) for s in submissions]
        dossiers, provisional, missing = self._from_cache(keys, submissions, trust_cache)
        if missing:
            rows = yield _Load(missing)
            for dossier in self._replay(rows):
                dossiers[dossier.id] = dossier
                self.cache.put(dossier.id, dossier)
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
        positions = yield from self._save(changed)
        self.groups_committed += 1
        self.events_committed += len(positions)
        for key, outcome in zip(keys, outcomes, strict=True):
            if isinstance(outcome, Appended) and not outcome.already:
                outcome.position = positions[(key, outcome.version)]
        return outcomes

    def _save(
        self, changed: dict[UUID, Dossier]
    ) -> Generator[_Io, Any, dict[tuple[UUID, int], int]]:
        if not changed:
            return {}
        pending = [event for dossier in changed.values() for event in dossier.collect_events()]
        to_stored = self.ledger.mapper.to_stored_event
        stored = [to_stored(event) for event in pending]
        try:
            ids: list[int] = yield _Append(stored)
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

    def _from_cache(
        self, keys: list[UUID], submissions: Sequence[Submission], trust_cache: bool
    ) -> tuple[dict[UUID, Dossier], set[UUID], list[UUID]]:
        """The dossiers known here, which of them are provisional, and which to load.

        Provisional: taken from the cache, or assumed new (absent from the result) because the
        group opens them with an opening event and the cache does not know them; a refusal
        judged on such a state is judged again on the database's.
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
        return found, provisional, missing

    def _replay(self, rows: list[tuple[Any, ...]]) -> list[Dossier]:
        """Many dossiers from the rows of one query (ordered by dossier, then version)."""
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

    @staticmethod
    def split(
        group: list[_Request], outcomes: list[Outcome]
    ) -> list[tuple[_Request, list[Outcome]]]:
        """Each request's share of the group's outcomes."""
        shares = []
        start = 0
        for request in group:
            end = start + len(request.submissions)
            shares.append((request, outcomes[start:end]))
            start = end
        return shares


class AsyncIngestWriter(GroupCommit):
    """The group commit as a task on the event loop that serves the requests.

    While a group waits for PostgreSQL, the loop goes on decoding and checking the next requests,
    which queue up for the next group.
    """

    def __init__(self, ledger: DossierLedger, rules: Rules, **options: Any) -> None:
        super().__init__(ledger, rules, **options)
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()  # None: stop
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ingest-writer")

    async def stop(self, timeout: float = 30) -> None:
        """Finish the group under way, then stop; requests still queued learn that it stopped."""
        if self._task is not None:
            self._queue.put_nowait(None)
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                _log.warning("the ingest writer did not stop within %ss", timeout)
            self._task = None
        while not self._queue.empty():
            request = self._queue.get_nowait()
            if request is not None and not request.future.done():
                request.future.set_exception(WriterStopped("the ingest writer stopped"))
        await self._discard_connection()

    def submit(self, submissions: Sequence[Submission]) -> asyncio.Future[list[Outcome]]:
        """Await the outcomes, one per submission, in order."""
        future: asyncio.Future[list[Outcome]] = asyncio.get_running_loop().create_future()
        if self._task is None or self._task.done():
            future.set_exception(WriterStopped("the ingest writer is not running"))
        else:
            self._queue.put_nowait(_Request(submissions, future))
        return future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            # Let the loop first run what is ready (requests already read from their sockets
            # are decoded and submitted): bigger groups, no added wait.
            waiting = -1
            while self._queue.qsize() != waiting:
                waiting = self._queue.qsize()
                await asyncio.sleep(0)
            group = [first]
            size = len(first.submissions)
            stopping = False
            while size < self.max_batch_events and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                group.append(item)
                size += len(item.submissions)
            await self._commit_group(group)
            if stopping:
                return

    async def _commit_group(self, group: list[_Request]) -> None:
        submissions = [s for request in group for s in request.submissions]
        try:
            outcomes = await self._drive(self.commit(submissions))
        except Exception as error:  # every request of the group learns of the failure
            _log.exception("group commit of %d events failed", len(submissions))
            for request in group:
                if not request.future.done():
                    request.future.set_exception(error)
            return
        for request, share in self.split(group, outcomes):
            if not request.future.done():  # the caller may have given up (client gone)
                request.future.set_result(share)

    async def _drive(self, steps: _Steps) -> list[Outcome]:
        """Run the group commit's I/O on this loop's connection."""
        step = _resume(steps)
        while not isinstance(step, _Done):
            try:
                result = await self._execute(step)
            except psycopg.Error as error:
                if isinstance(error, _CONNECTION_ERRORS):
                    await self._discard_connection()
                step = _resume(steps, error=error)
            else:
                step = _resume(steps, result)
        return step.outcomes

    async def _execute(self, io: _Io) -> Any:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(**self.connect_kwargs)
        if isinstance(io, _Load):
            cursor = await self._connection.execute(self.load_statement, (io.ids,))
            return await cursor.fetchall()
        return await self.recorder.append_async(self._connection, io.stored)

    async def _discard_connection(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class IngestWriter:
    """The one writer, for callers that are threads (`ledger demo`, benchmarks, tests).

    It is the event loop's writer (`AsyncIngestWriter`), run on an event loop of its own in a
    thread: the same group commit, driven the same way. `append` blocks until the outcomes
    are known.
    """

    def __init__(self, ledger: DossierLedger, rules: Rules, **options: Any) -> None:
        self._options = options
        self._ledger = ledger
        self._rules = rules
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._writer: AsyncIngestWriter | None = None

    @property
    def groups_committed(self) -> int:
        return 0 if self._writer is None else self._writer.groups_committed

    @property
    def events_committed(self) -> int:
        return 0 if self._writer is None else self._writer.events_committed

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="ingest-writer", daemon=True)
        self._thread.start()
        self._loop = loop
        self._writer = self._call(self._started())

    async def _started(self) -> AsyncIngestWriter:
        writer = AsyncIngestWriter(self._ledger, self._rules, **self._options)
        await writer.start()
        return writer

    def stop(self) -> None:
        if self._loop is None or self._writer is None:
            return
        self._call(self._writer.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._loop.close()
        self._loop = self._thread = None

    def append(self, submissions: Sequence[Submission], timeout: float = 60) -> list[Outcome]:
        """Submit and wait: the outcomes, one per submission, in order."""
        if self._loop is None or self._writer is None:
            raise WriterStopped("the ingest writer is not running")
        writer = self._writer

        async def submitted() -> list[Outcome]:
            return await writer.submit(submissions)

        outcomes: list[Outcome] = self._call(submitted(), timeout)
        return outcomes

    def _call(self, coroutine: Any, timeout: float = 60) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)
