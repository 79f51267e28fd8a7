"""The read endpoints' way to PostgreSQL: an asynchronous pool on the API's event loop.

A request that reads does not hop to a worker thread: it awaits its statement on one of the
pool's connections (LEDGER_READ_POOL_SIZE of them at most), acting as the application role.
Requests that ask for the same kind of row at about the same time share one statement:
`KeyedReads` collects the keys asked during one turn of the event loop and fetches them with
one `= ANY(%s)` query, so 32 concurrent lookups cost a few round trips, not 32.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg.sql import SQL, Composed
from psycopg_pool import AsyncConnectionPool

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class AsyncReads:
    """A pool of asynchronous connections for reads; `open()` and `close()` on the loop."""

    def __init__(self, url: str, *, app_role: str | None, size: int, timeout: float = 2.0) -> None:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "row_factory": dict_row,
            "connect_timeout": max(1, round(timeout)),
        }
        if app_role:
            kwargs["options"] = f"-c role={app_role}"
        self.pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            url,
            kwargs=kwargs,
            min_size=1,
            max_size=max(size, 1),
            timeout=timeout,
            open=False,
            name="reads",
        )

    async def open(self) -> None:
        await self.pool.open()

    async def close(self) -> None:
        await self.pool.close()

    async def fetch(
        self, statement: SQL | Composed | bytes, parameters: Sequence[Any] | Mapping[str, Any]
    ) -> list[DictRow]:
        """The rows of one prepared statement.

        A connection the server dropped while it sat in the pool (a restart) fails at once: the
        statement is sent again, once, on a fresh connection; a second failure is the caller's.
        """
        for attempt in (1, 2):
            async with self.pool.connection() as connection:
                try:
                    cursor = await connection.execute(statement, parameters, prepare=True)
                    return await cursor.fetchall()
                except psycopg.OperationalError:
                    if attempt == 2 or not connection.closed:
                        raise
        raise AssertionError("unreachable")

    def keyed(self, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> KeyedReads[K, V]:
        return KeyedReads(fetch)


class KeyedReads(Generic[K, V]):
    """One fetch for the keys asked during one turn of the event loop.

    `get(key)` waits for the fetch that includes `key` and answers its value, or None when the
    fetch found nothing for it. A caller that goes away does not cancel the fetch for the others.
    """

    def __init__(self, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> None:
        self._fetch = fetch
        self._waiting: dict[K, asyncio.Future[V | None]] = {}

    async def get(self, key: K) -> V | None:
        future = self._waiting.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            if not self._waiting:
                loop.call_soon(self._start)
            future = self._waiting[key] = loop.create_future()
        return await asyncio.shield(future)

    def _start(self) -> None:
        waiting, self._waiting = self._waiting, {}
        task = asyncio.get_running_loop().create_task(self._answer(waiting))
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)

    async def _answer(self, waiting: dict[K, asyncio.Future[V | None]]) -> None:
        try:
            found = await self._fetch(list(waiting))
        except BaseException as error:
            for future in waiting.values():
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for key, future in waiting.items():
            if not future.done():
                future.set_result(found.get(key))


_RUNNING: set[asyncio.Task[None]] = set()
"""Fetches under way (the event loop keeps only weak references to tasks)."""
