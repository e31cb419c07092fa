"""``LoopFlask``: Flask whose async code runs on the serving loop, and sync views in threads.

Where a request runs is decided by its view, before Flask starts on it
(:meth:`LoopFlask.runs_in_thread`):

- **An async view**: the whole request (hooks, view, error handlers, teardown) runs on the
  loop, in the request's own task, through the portal; what one of them sets in a context
  variable, the others see.
- **A sync view**: the whole request runs in one thread of the sync-view pool, as a WSGI server
  would run it: hooks, view and teardown see one thread (thread-locals, ``scoped_session``) and
  one context, and a view that blocks (``time.sleep``, a sync driver) stalls nothing else.

Flask passes every view, hook and error handler through :meth:`Flask.ensure_sync` before calling
it, and documents that method (with ``async_to_sync``) as the place to change how async code
runs. This class uses it to send coroutines to :func:`.portal.run`, wherever they are called.

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

from .environ import BODY_TOO_LARGE, STREAMED_BODY
from .portal import await_in_portal, on_server_loop, run

T = TypeVar("T")
LifecycleFunction = Callable[[], Coroutine[Any, Any, None]]
L = TypeVar("L", bound=LifecycleFunction)

log = structlog.get_logger(__name__)


#: Routing decisions kept by runs_in_thread before the cache starts over.
_MAX_DECISIONS = 4096


class _Kind(enum.Enum):
    ASYNC = "async"
    SYNC_VIEW = "sync view"
    SYNC = "sync"


class LoopFlask(Flask):
    """A :class:`flask.Flask` for the ASGI adapter; see the module docstring.

    ``sync_view_threads`` sizes the pool that runs requests for sync views (and streamed
    bodies) while a server runs. ``thread_cancel_wait`` is how long a cancelled request (its
    client gone) still waits for its thread to finish, in seconds: a thread cannot be stopped.
    """

    def __init__(
        self,
        *args: Any,
        sync_view_threads: int = 32,
        thread_cancel_wait: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sync_view_executor = ThreadPoolExecutor(
            max_workers=sync_view_threads, thread_name_prefix="sync-view"
        )
        self.thread_cancel_wait = thread_cancel_wait
        #: Whether requests for a method, host and path go to a thread; see runs_in_thread.
        self._in_thread: dict[tuple[str, str, str, str], bool] = {}
        #: What ``ensure_sync`` decided per function: Flask calls it for every hook and view on
        #: every request, and deciding once saves the ``inspect`` work. Weak keys, and values
        #: that do not refer to them: a class-based view's bound methods are new objects on
        #: every request and must not be kept alive here.
        self._kinds: weakref.WeakKeyDictionary[Callable[..., Any], _Kind]
        self._kinds = weakref.WeakKeyDictionary()
        self.before_serving_funcs: list[LifecycleFunction] = []
        self.after_serving_funcs: list[LifecycleFunction] = []
        #: True once the worker has been asked to stop: it still serves, but should not be
        #: sent new traffic (readiness checks answer 503).
        self.draining = False

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

    def begin_draining(self) -> None:
        """Mark the worker as stopping soon; see :attr:`draining`."""
        self.draining = True

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
            # A sync view reached on the loop after all (see runs_in_thread): not here.
            return functools.partial(self._call_in_thread, func)
        return func

    def runs_in_thread(self, environ: dict[str, Any]) -> bool:
        """Whether the request ``environ`` describes is for a sync view, and so runs in a thread.

        Decided by matching the URL before Flask runs, once per method, host and path (bounded
        cache). Requests Flask's routing refuses (404, 405, redirects) stay on the loop. If
        WSGI middleware around the app changes the path, the decision may miss: a sync view
        reached on the loop still runs in a thread (``ensure_sync``), and an async view reached
        in a thread still runs on the loop (``run``), only with a hop more.
        """
        key = (
            environ["REQUEST_METHOD"],
            environ.get("HTTP_HOST", ""),
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
        )
        try:
            return self._in_thread[key]
        except KeyError:
            pass
        try:
            adapter = self.create_url_adapter(self.request_class(environ))
            endpoint, _ = adapter.match() if adapter is not None else (None, None)
        except Exception:  # a routing error or redirect: Flask answers it, on the loop
            endpoint = None
        view = self.view_functions.get(endpoint) if isinstance(endpoint, str) else None
        decision = view is not None and self._kind(view) is _Kind.SYNC_VIEW
        if len(self._in_thread) >= _MAX_DECISIONS:
            self._in_thread.clear()
        self._in_thread[key] = decision
        return decision

    def process_response(self, response: Any) -> Any:
        """Flask's ``after_request`` step; also tells the adapter whether the body streams."""
        response = super().process_response(response)
        request.environ[STREAMED_BODY] = response.is_streamed
        return response

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
