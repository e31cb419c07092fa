"""The async bridge: how Flask's synchronous calls reach the server's event loop.

Flask calls views, hooks and extension callbacks synchronously. Stock Flask turns an ``async
def`` view into a sync call with asgiref's ``async_to_sync``, which runs every coroutine on a
brand-new event loop in a brand-new thread. A client or pool opened once and shared (an
``aiohttp.ClientSession``, an SQLAlchemy async engine) is bound to the loop it first ran on, so
sharing it across those throwaway loops fails with "Event loop is closed" or "attached to a
different loop", and Flask-Login's sync ``user_loader`` cannot await an async store at all.

Here every coroutine runs on the one loop that serves the request: Hypercorn's own loop in its
worker process. ``run(coro)`` is the single way sync code waits for a coroutine; it takes the
first of these paths that applies:

1. **On the server loop.** The ASGI adapter calls Flask's ``wsgi_app`` through
   :func:`call_with_portal`, which runs it in a *portal*: a greenlet started from the request's
   own task. ``run`` then drives the coroutine right there and, each time it has to wait,
   switches back to the task, which hands the wait to the loop like any ``await`` and
   switches back in with the result. So the coroutine is awaited by that same task, on that
   same loop, however deep in sync code we are (async view -> ``current_user`` -> sync
   ``user_loader`` -> ``run`` nests). This is greenback's design (greenback.readthedocs.io),
   kept to the few lines this service needs so that portals can be reused: a fresh greenlet
   per request costs CPython a new 16 KiB frame stack (an mmap, a page fault and a munmap),
   which the template's bench measured as the largest cost the bridge added per request.
   Measured on a 2-core machine with ``bench/bridge_cost.py``: a few µs a call, against
   80-300 µs for a hop to another thread's loop and 600-1000 µs for asgiref's
   ``async_to_sync``.
2. **In a worker thread of the server.** A sync view may block (``time.sleep``, a sync
   driver), and blocking the loop would stall every other request, so sync views run in a
   thread pool (:meth:`LoopFlask.ensure_sync`). Code in that thread that needs a coroutine
   hands it to the server loop with ``run_coroutine_threadsafe`` and waits.
3. **No server at all** (Flask's test client, the ``flask`` CLI, a script): coroutines run on
   one background loop that this module starts on first use and keeps for the process.

Nothing else in the service creates event loops or calls ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import threading
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from typing import Any, TypeVar

import greenlet
from flask import Flask, has_request_context, request

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
        return _await_in_portal(coro)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(
            "runtime.run() was called from async code outside a request; await it instead"
        )
    loop = _server_loop.get() or background_loop()
    # The new task inherits this thread's context (Flask's request context included) and gets
    # a portal of its own, so that sync code the coroutine calls can run() again.
    return asyncio.run_coroutine_threadsafe(_with_portal(coro), loop).result()


async def _with_portal(coro: Coroutine[Any, Any, T]) -> T:
    return await _run_in_portal(_await_in_portal, (coro,))


async def call_with_portal(func: Callable[..., T], *args: Any) -> T:
    """Call sync ``func(*args)`` on this task so that :func:`run` inside it uses this loop."""
    token = _server_loop.set(asyncio.get_running_loop())
    try:
        return await _run_in_portal(func, args)
    finally:
        _server_loop.reset(token)


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
        raise RuntimeError("not inside runtime.call_with_portal()")
    return portal.parent


def _await_in_portal(awaitable: Awaitable[T]) -> T:
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
            thread = threading.Thread(target=loop.run_forever, name="runtime-loop", daemon=True)
            thread.start()
            _background = loop
        return _background


class _Kind(enum.Enum):
    ASYNC = "async"
    SYNC_VIEW = "sync view"
    SYNC = "sync"


class LoopFlask(Flask):
    """Flask whose async code runs on the serving loop and whose sync views run in threads.

    ``ensure_sync`` is Flask's documented override point: Flask passes every view, hook and
    error handler through it before calling it.
    """

    def __init__(self, *args: Any, sync_view_threads: int = 32, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sync_view_executor = ThreadPoolExecutor(
            max_workers=sync_view_threads, thread_name_prefix="sync-view"
        )
        #: What ``ensure_sync`` decided per function: Flask calls it for every hook and view on
        #: every request, and deciding once saves the ``inspect`` work. Weak keys, and values
        #: that do not refer to them: a class-based view's bound methods are new objects on
        #: every request and must not be kept alive here.
        self._kinds: weakref.WeakKeyDictionary[Callable[..., Any], _Kind]
        self._kinds = weakref.WeakKeyDictionary()
        #: Coroutine functions the ASGI adapter awaits at lifespan startup and shutdown.
        self.startup_hooks: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.shutdown_hooks: list[Callable[[], Coroutine[Any, Any, None]]] = []

    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            return run(func(*args, **kwargs))

        return call

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            kind = self._kinds[func]
        except KeyError:
            kind = self._kinds[func] = self._kind(func)
        except TypeError:  # not weakly referenceable (a builtin, say): decide every time
            kind = self._kind(func)
        if kind is _Kind.ASYNC:
            return self.async_to_sync(func)
        if kind is _Kind.SYNC_VIEW and on_server_loop() and self._is_endpoint(func):
            return functools.partial(self._call_in_thread, func)
        return func

    def _kind(self, func: Callable[..., Any]) -> _Kind:
        """Whether ``func`` is async, a sync view that may block, or other sync code.

        What decides for a view is its innermost function: decorators such as
        ``login_required`` are sync wrappers around the real view, and an async view stays on
        the loop, wrappers and all. Hooks and error handlers are expected not to block and
        stay on the loop.
        """
        if inspect.iscoroutinefunction(func):
            return _Kind.ASYNC
        is_view = any(view is func for view in self.view_functions.values())
        if is_view and not inspect.iscoroutinefunction(inspect.unwrap(func)):
            return _Kind.SYNC_VIEW
        return _Kind.SYNC

    def _is_endpoint(self, func: Callable[..., Any]) -> bool:
        """Whether ``func`` is the view being dispatched, not called in some other role."""
        if not has_request_context() or request.url_rule is None:
            return False
        return self.view_functions.get(request.url_rule.endpoint) is func

    def _call_in_thread(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a sync view in the pool; the request context travels with the copied context."""
        loop = asyncio.get_running_loop()
        call = functools.partial(copy_context().run, func, *args, **kwargs)
        return _await_in_portal(loop.run_in_executor(self.sync_view_executor, call))
