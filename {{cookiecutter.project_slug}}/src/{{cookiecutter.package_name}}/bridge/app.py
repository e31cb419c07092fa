"""``LoopFlask``: Flask whose async code runs on the serving loop, and sync views in threads.

Flask passes every view, hook and error handler through :meth:`Flask.ensure_sync` before calling
it, and documents that method (with ``async_to_sync``) as the place to change how async code
runs. This class uses it to send coroutines to :func:`.portal.run` and sync views to a thread
pool, so that a view that blocks (``time.sleep``, a sync driver) does not stall every other
request on the loop.

The app also owns its lifecycle, as Quart's does: functions registered with
:meth:`LoopFlask.before_serving` and :meth:`LoopFlask.after_serving` run once per worker, on the
loop that will serve it, when the ASGI adapter calls :meth:`LoopFlask.startup` and
:meth:`LoopFlask.shutdown` at lifespan start-up and shut-down.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import weakref
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import Any, TypeVar

import structlog
from flask import Flask, has_request_context, request
from werkzeug.exceptions import RequestEntityTooLarge

from .environ import BODY_TOO_LARGE
from .portal import await_in_portal, on_server_loop, run

T = TypeVar("T")
LifecycleFunction = Callable[[], Coroutine[Any, Any, None]]
L = TypeVar("L", bound=LifecycleFunction)

log = structlog.get_logger(__name__)


class _Kind(enum.Enum):
    ASYNC = "async"
    SYNC_VIEW = "sync view"
    SYNC = "sync"


class LoopFlask(Flask):
    """A :class:`flask.Flask` for the ASGI adapter; see the module docstring.

    ``sync_view_threads`` sizes the pool that runs sync views while a server runs.
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
        self.before_serving_funcs: list[LifecycleFunction] = []
        self.after_serving_funcs: list[LifecycleFunction] = []

    # --- lifecycle ---------------------------------------------------------------------------

    def before_serving(self, func: L) -> L:
        """Register a coroutine function to run once per worker before it serves requests."""
        self.before_serving_funcs.append(func)
        return func

    def after_serving(self, func: L) -> L:
        """Register a coroutine function to run once per worker after it stopped serving.

        They run in the reverse order of registration, so what opened last closes first.
        """
        self.after_serving_funcs.append(func)
        return func

    async def startup(self) -> None:
        """Run the ``before_serving`` functions; an exception stops the worker from serving."""
        for func in self.before_serving_funcs:
            await func()

    async def shutdown(self) -> None:
        """Run every ``after_serving`` function, even after one failed, then stop the pool."""
        for func in reversed(self.after_serving_funcs):
            try:
                await func()
            except Exception:  # close what else we can
                log.exception("after_serving function failed", function=func.__qualname__)
        self.sync_view_executor.shutdown(wait=False, cancel_futures=True)

    # --- where code runs ---------------------------------------------------------------------

    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        """Flask's override point: a coroutine function becomes a sync call through ``run``."""

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
        return await_in_portal(loop.run_in_executor(self.sync_view_executor, call))

    # --- requests the adapter could not hand over whole --------------------------------------

    def dispatch_request(self) -> Any:
        """Answer 413 instead of the view when the adapter refused the body as too large.

        The adapter stops reading at ``MAX_CONTENT_LENGTH`` and passes the request on without
        its body, so the answer goes through Flask like any other: ``before_request`` hooks,
        the app's error handler for 413, ``after_request`` hooks (headers) and teardown.
        """
        if request.environ.get(BODY_TOO_LARGE):
            raise RequestEntityTooLarge()
        return super().dispatch_request()
