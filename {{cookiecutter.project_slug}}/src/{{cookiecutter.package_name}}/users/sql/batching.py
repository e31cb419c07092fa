"""Lookups made at the same time share one thread hop (SQLite) or one round trip (PostgreSQL),
and one query.

Every authenticated request looks its login (or access token) up. Made alone, each lookup
would be a hop to a store thread and back, and under load the hops (a thread woken, the GIL
handed over and back, the event loop woken) cost more than the query itself. So the first lookup
queues a job, and every lookup made before a store thread starts that job joins it: one query,
and one wake-up per waiting event loop, answer them all. A lone lookup costs one hop; many
concurrent requests share a few.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from typing import Generic, NamedTuple, TypeVar

from ..models import StoreUnavailable

R = TypeVar("R")


class _Lookup(NamedTuple, Generic[R]):
    key: str
    future: asyncio.Future[R | None]


class Batcher(Generic[R]):
    """Answers lookups by key with ``query(keys) -> {key: answer}``, run in ``executor``."""

    def __init__(self, executor: Executor | None, query: Callable[[list[str]], dict[str, R]]):
        self._executor = executor
        self._query = query
        # The loop adds to the list, a store thread empties it: hence the lock.
        self._waiting: list[_Lookup[R]] = []
        self._lock = threading.Lock()
        self._job_queued = False

    async def lookup(self, key: str) -> R | None:
        """The answer for ``key`` (None if the query found nothing), or the query's error."""
        loop = asyncio.get_running_loop()
        lookup: _Lookup[R] = _Lookup(key, loop.create_future())
        with self._lock:
            self._waiting.append(lookup)
            queue_job, self._job_queued = not self._job_queued, True
        if queue_job:
            try:
                loop.run_in_executor(self._executor, self._answer)
            except RuntimeError:  # the pool is shut down: the store is closing
                self._answer(closed=True)
        return await lookup.future

    def _answer(self, *, closed: bool = False) -> None:
        """In a store thread: answer every lookup queued so far, with one query."""
        with self._lock:
            lookups, self._waiting = self._waiting, []
            self._job_queued = False
        found: dict[str, R] = {}
        error: Exception | None = StoreUnavailable("the user store is closed") if closed else None
        if error is None:
            try:
                found = self._query(sorted({lookup.key for lookup in lookups}))
            except Exception as failure:  # StoreUnavailable, or a bug: each waiter raises it
                error = failure
        by_loop: dict[asyncio.AbstractEventLoop, list[_Lookup[R]]] = {}
        for lookup in lookups:
            by_loop.setdefault(lookup.future.get_loop(), []).append(lookup)
        for loop, waiting in by_loop.items():
            # A closed loop (RuntimeError) has nobody waiting on it any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, waiting, found, error)


def _settle(lookups: Iterable[_Lookup[R]], found: dict[str, R], error: Exception | None) -> None:
    """On the lookups' loop: hand each waiting request its answer."""
    for lookup in lookups:
        if lookup.future.done():  # its request was cancelled meanwhile
            continue
        if error is None:
            lookup.future.set_result(found.get(lookup.key))
        else:
            # One exception object per request, so their tracebacks do not pile up on one.
            own = copy.copy(error)
            own.__cause__, own.__suppress_context__ = error.__cause__, True
            lookup.future.set_exception(own)


class LoopBatcher(Generic[R]):
    """On one event loop: lookups made in the same pass of the loop share one query.

    For a store whose driver awaits on the loop (PostgreSQL): under load one pass of the loop
    resumes many requests, and each would send its own query and take its own pooled
    connection. Here the first lookup of a pass schedules a flush for the next pass, and every
    lookup made meanwhile joins it: one query with all their keys, one connection, one round
    trip. A lone lookup waits one pass of the loop more than it would alone.
    """

    def __init__(self, query: Callable[[list[str]], Awaitable[dict[str, R]]]) -> None:
        self._query = query
        self._waiting: dict[str, list[asyncio.Future[R | None]]] = {}
        self._flush_scheduled = False
        self._answering: set[asyncio.Task[None]] = set()

    async def lookup(self, key: str) -> R | None:
        """The answer for ``key`` (None if the query found nothing), or the query's error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R | None] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._waiting = self._waiting, {}
        task = asyncio.ensure_future(self._answer(batch))
        self._answering.add(task)  # a task nobody references could be collected mid-query
        task.add_done_callback(self._answering.discard)

    async def _answer(self, batch: dict[str, list[asyncio.Future[R | None]]]) -> None:
        found: dict[str, R] = {}
        error: Exception | None = None
        try:
            found = await self._query(sorted(batch))
        except Exception as failure:  # StoreUnavailable, or a bug: each waiter raises it
            error = failure
        for key, futures in batch.items():
            _settle([_Lookup(key, future) for future in futures], found, error)
