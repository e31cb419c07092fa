"""The async bridge: how Flask's synchronous calls reach the server's event loop.

Flask calls views, hooks and extension callbacks synchronously. Stock Flask turns an ``async
def`` view into a sync call with asgiref's ``async_to_sync``, which runs every coroutine on a
brand-new event loop in a brand-new thread. A client or pool opened once and shared (an
``httpx2.AsyncClient``, an SQLAlchemy async engine) is bound to the loop it first ran on, so
sharing it across those throwaway loops fails with "Event loop is closed" or "attached to a
different loop", and Flask-Login's sync ``user_loader`` cannot await an async store at all.

Here every coroutine runs on the one loop that serves the request: Hypercorn's own loop in its
worker process. ``run(coro)`` is the single way sync code waits for a coroutine; it takes the
first of these paths that applies:

1. **On the server loop.** The ASGI adapter calls Flask's ``wsgi_app`` through
   :func:`call_with_portal`, which runs it inside the request's task with a greenback portal.
   ``run`` then uses ``greenback.await_``: the coroutine is awaited by that same task, on that
   same loop, however deep in sync code we are (async view -> ``current_user`` -> sync
   ``user_loader`` -> ``run`` nests). Measured on a 2-core machine with the template's
   ``bench/bridge_cost.py``: about 4 µs a call, against 80-300 µs for a hop to another
   thread's loop and 600-1000 µs for asgiref's ``async_to_sync``.
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
import weakref
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from typing import Any, TypeVar

import greenback
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
    if greenback.has_portal():
        return greenback.await_(coro)
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
    await greenback.ensure_portal()
    return await coro


async def call_with_portal(func: Callable[..., T], *args: Any) -> T:
    """Call sync ``func(*args)`` on this task so that :func:`run` inside it uses this loop."""
    token = _server_loop.set(asyncio.get_running_loop())
    try:
        return await greenback.with_portal_run_sync(func, *args)
    finally:
        _server_loop.reset(token)


def on_server_loop() -> bool:
    """True inside :func:`call_with_portal`, i.e. while serving a request on the event loop."""
    return greenback.has_portal()


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
        result: T = greenback.await_(loop.run_in_executor(self.sync_view_executor, call))
        return result
