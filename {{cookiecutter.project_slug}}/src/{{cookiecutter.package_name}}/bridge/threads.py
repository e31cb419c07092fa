"""Threads and the loop: sync code in a thread waits for a coroutine on the loop, and the loop
waits for sync code in a thread.

Both directions keep Flask's semantics for context variables. A coroutine that sync code waits
for runs in a task with a copy of the thread's context, and what it sets there is copied back
into the thread's context when it is done, as asgiref's ``async_to_sync`` does: a value an
``async`` hook binds (``structlog.contextvars.bind_contextvars``, say) is seen by the sync code
that runs after it. Sync code the loop hands to a thread runs in a copy of the task's context.

A thread cannot be interrupted. When the task waiting for one is cancelled (its client went
away, the server is stopping), the task still waits for the thread to finish, up to
``cancel_wait`` seconds, so that what runs after it (a response, a worker's shut-down) never
overtakes it; past that, the task gives up and the thread finishes on its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from contextvars import Context, copy_context
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()


def wait_on_loop(coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop) -> T:
    """Run ``coro`` on ``loop`` (another thread's) and wait; its context changes come back."""
    context = copy_context()
    done: concurrent.futures.Future[T] = concurrent.futures.Future()

    def start() -> None:
        task = loop.create_task(coro, context=context)
        task.add_done_callback(lambda finished: _settle(finished, done))

    loop.call_soon_threadsafe(start)
    try:
        return done.result()
    finally:
        _copy_back(context)


def _settle(task: asyncio.Task[T], done: concurrent.futures.Future[T]) -> None:
    if task.cancelled():
        done.cancel()
    elif (error := task.exception()) is not None:
        done.set_exception(error)
    else:
        done.set_result(task.result())


def _copy_back(context: Context) -> None:
    """Set in the current context every variable whose value ``context`` changed."""
    for variable, value in context.items():
        if variable.get(_MISSING) is not value:
            variable.set(value)


async def call_in_thread(
    executor: Executor,
    context: Context,
    func: Callable[..., T],
    *args: Any,
    cancel_wait: float,
    on_cancel: Callable[[], None] | None = None,
) -> T:
    """Run ``func(*args)`` in ``executor`` inside ``context`` and await its result.

    If this task is cancelled meanwhile, ``on_cancel`` is called (to ask the code to stop early,
    say) and the task waits up to ``cancel_wait`` seconds for the thread before it lets the
    cancellation go on; a call still queued for a thread is dropped instead.
    """
    job = executor.submit(context.run, func, *args)
    try:
        return await asyncio.shield(asyncio.wrap_future(job))
    except asyncio.CancelledError:
        if not job.cancel():  # already running: it cannot be stopped, only waited for
            if on_cancel is not None:
                on_cancel()
            await asyncio.wait([asyncio.wrap_future(job)], timeout=cancel_wait)
        raise
