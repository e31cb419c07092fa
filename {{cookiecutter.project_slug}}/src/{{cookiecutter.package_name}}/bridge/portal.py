"""The portal: how synchronous code waits for a coroutine on the event loop that serves it.

Flask calls views, hooks and extension callbacks synchronously. Stock Flask turns an ``async
def`` view into a sync call with asgiref's ``async_to_sync``, which runs every coroutine on a
brand-new event loop in a brand-new thread. A client or pool opened once and shared (an
``httpx.AsyncClient``, a database pool) is bound to the loop it first ran on, so sharing it across
those throwaway loops fails with "Event loop is closed" or "attached to a different loop", and
Flask-Login's sync ``user_loader`` cannot await an async store at all.

Here every coroutine runs on the one loop that serves the request: Hypercorn's own loop in its
worker process. :func:`run` is the single way sync code waits for a coroutine; it takes the
first of these paths that applies:

1. **On the server loop.** The ASGI adapter calls Flask through :func:`call_with_portal`, which
   runs it in a *portal*: a greenlet started from the request's own task. ``run`` then drives
   the coroutine right there and, each time it has to wait, switches back to the task, which
   hands the wait to the loop like any ``await`` and switches back in with the result. So the
   coroutine is awaited by that same task, on that same loop, however deep in sync code we are
   (async view -> ``current_user`` -> sync ``user_loader`` -> ``run`` nests). This is
   greenback's design (greenback.readthedocs.io), kept to the few lines needed here so that
   portals can be reused: starting a greenlet costs CPython a new frame stack, and a parked
   portal is ready for the next request.
2. **In another thread of a server** (a request for a sync view, a streamed body): the
   coroutine is handed to the server loop and the thread waits for it (:mod:`.threads`).
3. **No server at all** (Flask's test client, the ``flask`` CLI, a script): coroutines run on
   one background loop that this module starts on first use and keeps for the process.

Nothing else in the service creates event loops or calls ``asyncio.run``. This module knows
nothing of Flask: it runs any sync callable and any coroutine.
"""

from __future__ import annotations

import asyncio
import threading
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from contextvars import Context, ContextVar, copy_context
from typing import Any, TypeVar

import greenlet

from .threads import wait_on_loop

T = TypeVar("T")

#: The loop serving the current request; copied into worker threads with the request context.
_server_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar("server_loop", default=None)
_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code and return its result.

    Use this, and only this, wherever sync code (a Flask-Login callback, a CLI command, a sync
    view) needs an async API. Raises :class:`RuntimeError` when called from async code on a
    loop without a portal, where waiting would deadlock: ``await`` the coroutine there instead.
    """
    if on_server_loop():
        return await_in_portal(coro)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(
            "bridge.run() was called from async code outside a portal, where waiting would "
            "block the loop: await the coroutine instead"
        )
    # The task gets this thread's context (Flask's request context included), gives back what
    # it changed there, and runs in a portal of its own so that sync code it calls can run().
    return wait_on_loop(_with_portal(coro), _server_loop.get() or background_loop())


async def _with_portal(coro: Coroutine[Any, Any, T]) -> T:
    return await _run_in_portal(await_in_portal, (coro,))


async def call_with_portal(func: Callable[..., T], *args: Any) -> T:
    """Call sync ``func(*args)`` on this task so that :func:`run` inside it uses this loop."""
    token = _server_loop.set(asyncio.get_running_loop())
    try:
        return await _run_in_portal(func, args)
    finally:
        _server_loop.reset(token)


def thread_context() -> Context:
    """A copy of this task's context for sync code sent to a thread: ``run`` there waits on
    this task's loop."""
    context = copy_context()
    context.run(_server_loop.set, asyncio.get_running_loop())
    return context


def on_server_loop() -> bool:
    """True inside :func:`call_with_portal`, i.e. while serving a request on the event loop."""
    return _portal_of(greenlet.getcurrent()) is not None


# The portal. Three kinds of message cross between a portal and the task that runs it:
#   task -> portal   (func, args)    start a call; a parked portal resumes with the next one
#   portal -> task   (trap, resume)  a coroutine is waiting on `trap` (what it yielded to the
#                                    loop); yield it from the task and resume greenlet `resume`
#   task -> portal   (value, error)  what the loop sent back for the trap, or what it threw
#   portal -> task   _Done           the call returned or raised; the portal parks itself

#: Parked portals kept for reuse, per thread (greenlets cannot change threads). Bounded so that
#: a burst of concurrent requests does not keep its greenlets (~20 KiB each) for good.
_MAX_IDLE_PORTALS = 256
_idle = threading.local()


class _Portal(greenlet.greenlet):
    """A greenlet that runs one sync call at a time for a task, then parks for reuse."""


class _Done:
    """What a call in a portal came to; emptied once read so parked portals hold nothing."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any, error: BaseException | None) -> None:
        self.value = value
        self.error = error


def _portal_main(func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    while True:
        try:
            done = _Done(func(*args), None)
        except greenlet.GreenletExit:  # the portal is being collected: let it end
            raise
        except BaseException as error:  # handed to the task, which raises it
            done = _Done(None, error)
        del func, args
        func, args = _task_of(greenlet.getcurrent()).switch(done)


def _portal_of(current: greenlet.greenlet | None) -> _Portal | None:
    """The portal ``current`` runs in, if any: itself, or an ancestor for a nested greenlet."""
    while current is not None and not isinstance(current, _Portal):
        current = current.parent
    return current


def _task_of(current: greenlet.greenlet) -> greenlet.greenlet:
    """The greenlet of the task running the portal that ``current`` is in."""
    portal = _portal_of(current)
    if portal is None or portal.parent is None:
        raise RuntimeError("not inside bridge.call_with_portal()")
    return portal.parent


def await_in_portal(awaitable: Awaitable[T]) -> T:
    """``await awaitable`` from sync code in a portal: drive it here, wait in the task."""
    coro = awaitable if isinstance(awaitable, Coroutine) else _wait_for(awaitable)
    here = greenlet.getcurrent()
    task = _task_of(here)
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            # Run the coroutine in this greenlet until it has to wait for the loop; a coroutine
            # that never waits (a view that just builds a response) costs no switch at all.
            trap = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = task.switch((trap, here))


async def _wait_for(awaitable: Awaitable[T]) -> T:
    return await awaitable


@types.coroutine
def _run_in_portal(func: Callable[..., T], args: tuple[Any, ...]) -> Generator[Any, Any, T]:
    """Run ``func(*args)`` in a portal, yielding the loop whatever its coroutines wait on."""
    try:
        idle: list[_Portal] = _idle.portals
    except AttributeError:
        idle = _idle.portals = []
    portal = idle.pop() if idle else _Portal(_portal_main)
    task = greenlet.getcurrent()
    portal.parent = task
    # Sync code in the portal sees (and sets) the task's context variables: Flask's request
    # context, structlog's bound variables.
    portal.gr_context = task.gr_context
    message = portal.switch(func, args)
    while not isinstance(message, _Done):
        if portal.dead:  # GreenletExit ends a greenlet instead of being handed over
            raise RuntimeError("sync code in a portal raised GreenletExit") from message
        trap, resume = message
        try:
            value = yield trap  # exactly what an `await` in the task would yield to the loop
        except BaseException as error:  # cancellation, thrown into the waiting coroutine
            message = resume.switch(None, error)
        else:
            message = resume.switch(value, None)
    portal.gr_context = None
    if len(idle) < _MAX_IDLE_PORTALS:
        idle.append(portal)
    result, failure = message.value, message.error
    message.value = message.error = None
    if failure is not None:
        raise failure
    return result  # type: ignore[no-any-return]


def background_loop() -> asyncio.AbstractEventLoop:
    """The loop used when no server runs (test client, CLI); started once per process."""
    global _background
    with _background_lock:
        if _background is None or _background.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="bridge-loop", daemon=True)
            thread.start()
            _background = loop
        return _background
