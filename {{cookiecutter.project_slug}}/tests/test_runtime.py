"""The async bridge: one loop for views, the user lookup and the shared client; sync views in
threads; Flask's test client and CLI still work."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextvars import Context, ContextVar
from typing import Any

import aiohttp
import greenlet
import pytest
from flask import jsonify, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from flask_login import current_user

from {{ cookiecutter.package_name }} import create_app, runtime
from {{ cookiecutter.package_name }}.asgi_adapter import ASGIAdapter
from {{ cookiecutter.package_name }}.resources import EXTENSION_KEY
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.sql_store import SQLUserStore
from {{ cookiecutter.package_name }}.users import User

from .conftest import PASSWORD, abandoned_request, login, served


@pytest.fixture
def lookup_loops(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy: the loop every user lookup ran on (the real lookup still runs)."""
    loops: list[int] = []
    original = SQLUserStore.user_for_session

    async def spy(self: SQLUserStore, token: str) -> User | None:
        loops.append(id(asyncio.get_running_loop()))
        return await original(self, token)

    monkeypatch.setattr(SQLUserStore, "user_for_session", spy)
    return loops


async def test_current_user_first_touched_in_an_async_view(
    settings: Settings, lookup_loops: list[int]
) -> None:
    app = create_app(settings)

    @app.get("/probe")
    async def probe() -> ResponseReturnValue:
        # No login_required: the user is loaded here, inside the running coroutine, where
        # asyncio.run() or async_to_sync() would raise.
        name = current_user.username if current_user.is_authenticated else None
        return jsonify(user=name, loop=id(asyncio.get_running_loop()))

    server_loop = id(asyncio.get_running_loop())
    async with served(app) as client:
        await login(client)
        answers = [(await client.get("/probe")).json() for _ in range(3)]
    assert [a["user"] for a in answers] == ["alice"] * 3
    assert {a["loop"] for a in answers} == {server_loop}
    assert set(lookup_loops) == {server_loop}
    assert len(lookup_loops) == 3  # once per request: Flask-Login caches it in g


async def test_view_lookup_and_shared_client_share_one_loop_across_requests(
    settings: Settings,
    upstream: str,
    lookup_loops: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[aiohttp.ClientSession] = []
    connect_loops: list[int] = []
    original_init = aiohttp.ClientSession.__init__
    original_connect = aiohttp.BaseConnector.connect

    def counting_init(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        created.append(self)
        original_init(self, *args, **kwargs)

    async def spying_connect(self: aiohttp.BaseConnector, *args: Any, **kwargs: Any) -> Any:
        # Every call takes a connection from the pool (or opens one) through here.
        connect_loops.append(id(asyncio.get_running_loop()))
        return await original_connect(self, *args, **kwargs)

    app = create_app(settings.model_copy(update={"upstream_url": upstream + "/"}))
    monkeypatch.setattr(aiohttp.ClientSession, "__init__", counting_init)
    monkeypatch.setattr(aiohttp.BaseConnector, "connect", spying_connect)
    async with served(app) as client:
        shared = app.extensions[EXTENSION_KEY].http
        await login(client)
        answers = await asyncio.gather(*(client.get("/upstream") for _ in range(50)))
        me = await client.get("/auth/me")
    assert [a.status_code for a in answers] == [200] * 50
    assert me.status_code == 200
    # The app built exactly one session, at startup, and made every call through it.
    assert created == [shared]
    server_loop = id(asyncio.get_running_loop())
    assert set(connect_loops) == {server_loop}
    assert len(connect_loops) == 50
    assert set(lookup_loops) == {server_loop}


async def test_sync_views_run_in_threads_and_do_not_stall_the_loop(settings: Settings) -> None:
    app = create_app(settings)
    barrier = threading.Barrier(10, timeout=10)
    threads: set[str] = set()

    @app.get("/sleepy")
    def sleepy() -> ResponseReturnValue:
        time.sleep(0.5)
        threads.add(threading.current_thread().name)
        # All ten must be inside this view at once, or the barrier times out (500).
        barrier.wait()
        return jsonify(ok=True)

    async with served(app) as client:
        sleepers = [asyncio.ensure_future(client.get("/sleepy")) for _ in range(10)]
        # While ten sync views block their threads, the loop still answers async views.
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert not all(s.done() for s in sleepers)
        answers = await asyncio.gather(*sleepers)
    assert [a.status_code for a in answers] == [200] * 10
    assert len(threads) == 10
    assert all(name.startswith("sync-view") for name in threads)


async def test_responses_are_sent_a_pass_after_the_views_finish(settings: Settings) -> None:
    """Requests that are ready together all run their views before any response is sent.

    The adapter sends from the loop's next pass so that, under load, requests that have just
    arrived start in between; docs/performance.md has what that is worth.
    """
    app = create_app(settings)
    events: list[str] = []

    @app.get("/mark/<name>")
    async def mark(name: str) -> ResponseReturnValue:
        events.append(f"view {name}")
        return jsonify(name=name)

    async def request(name: str) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                events.append(f"send {name}")

        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/mark/{name}",
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
        }
        await ASGIAdapter(app)(scope, receive, send)

    await asyncio.gather(request("a"), request("b"))
    assert events == ["view a", "view b", "send a", "send b"]


async def test_a_view_is_cancelled_when_its_client_disconnects(settings: Settings) -> None:
    """A view still working when its client goes away is cancelled: its own cleanup and
    Flask's teardown run, no response is sent, and the server is told nothing went wrong."""
    app = create_app(settings)
    started, seen = asyncio.Event(), []

    @app.get("/wait")
    async def wait() -> ResponseReturnValue:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("view cancelled")
            raise
        return jsonify()

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        seen.append(f"teardown {type(error).__name__}")

    gone = asyncio.Event()
    request = asyncio.ensure_future(abandoned_request(ASGIAdapter(app), "GET", "/wait", gone))
    await asyncio.wait_for(started.wait(), timeout=10)
    gone.set()
    assert await asyncio.wait_for(request, timeout=10) == []
    assert seen == ["view cancelled", "teardown CancelledError"]


async def test_a_request_the_server_cancels_stays_cancelled(settings: Settings) -> None:
    """Only the client's disconnect is absorbed: a cancellation from outside (the server
    shutting down, a timeout around the app) still ends the request's task as cancelled."""
    app = create_app(settings)
    started = asyncio.Event()

    @app.get("/wait")
    async def wait() -> ResponseReturnValue:
        started.set()
        await asyncio.Event().wait()
        return jsonify()

    gone = asyncio.Event()  # never set: the client stays
    request = asyncio.ensure_future(abandoned_request(ASGIAdapter(app), "GET", "/wait", gone))
    await asyncio.wait_for(started.wait(), timeout=10)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request


async def test_a_request_cut_off_mid_body_is_not_run(settings: Settings) -> None:
    """A client that disconnects before its body is complete gets nothing run for it: the
    view would otherwise see a truncated body as if it were the whole request."""
    app = create_app(settings)
    seen: list[bytes] = []

    @app.post("/echo")
    def echo() -> ResponseReturnValue:
        seen.append(request.get_data())
        return jsonify()

    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"half": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/echo",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-length", b"20")],
    }
    await ASGIAdapter(app)(scope, receive, send)
    assert seen == []
    assert sent == []


async def test_lifespan_opens_and_closes_the_shared_clients(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[SQLUserStore] = []
    original_close = SQLUserStore.close

    async def spying_close(self: SQLUserStore) -> None:
        closed.append(self)
        await original_close(self)

    monkeypatch.setattr(SQLUserStore, "close", spying_close)
    app = create_app(settings)
    resources = app.extensions[EXTENSION_KEY]
    async with served(app) as client:
        http, store = resources.http, resources.store
        assert (await client.get("/readyz")).status_code == 200
        assert not http.closed
        assert closed == []
    assert http.closed
    assert closed == [store]


async def test_startup_exempts_the_apps_heap_from_garbage_collection(settings: Settings) -> None:
    """Full collections would otherwise walk the start-up heap again and again under load."""
    app = create_app(settings)
    frozen_before = gc.get_freeze_count()
    async with served(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert gc.get_freeze_count() > frozen_before
        # gc.get_objects() lists the collected generations only, not the frozen one.
        assert gc.is_tracked(app)
        assert all(obj is not app for obj in gc.get_objects())


def test_flask_test_client_works_without_a_server(settings: Settings) -> None:
    app = create_app(settings)
    with app.test_client() as client:
        response = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 200
        assert client.get("/auth/me").get_json() == {"id": 1, "username": "alice"}
        assert client.post("/auth/logout").status_code == 204
        assert client.get("/auth/me").status_code == 401


def test_run_refuses_to_deadlock_inside_a_bare_event_loop() -> None:
    from {{ cookiecutter.package_name }} import runtime

    async def answer() -> int:
        return 42

    async def misuse() -> None:
        runtime.run(answer())

    assert runtime.run(answer()) == 42
    with pytest.raises(RuntimeError, match="await it instead"):
        asyncio.run(misuse())


async def test_streamed_and_empty_bodies_arrive_whole(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/stream")
    def stream() -> ResponseReturnValue:
        def chunks() -> Iterator[str]:
            for n in range(3):
                # Generator code runs while the response is sent; it may still await.
                yield runtime.run(_echo(f"part {n};"))

        return app.response_class(stream_with_context(chunks()), mimetype="text/plain")

    @app.get("/empty")
    async def empty() -> ResponseReturnValue:
        return "", 204

    flask_wsgi_app = app.wsgi_app

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # WSGI middleware may answer with a list of chunks instead of an iterator.
        if environ["PATH_INFO"] == "/list":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"first;", b"second;"]
        return flask_wsgi_app(environ, start_response)

    app.wsgi_app = middleware  # type: ignore[method-assign]
    async with served(app) as client:
        streamed = await client.get("/stream")
        listed = await client.get("/list")
        nothing = await client.get("/empty")
        head = await client.head("/healthz")
    assert streamed.status_code == 200
    assert streamed.text == "part 0;part 1;part 2;"
    assert listed.text == "first;second;"
    assert (nothing.status_code, nothing.content) == (204, b"")
    assert (head.status_code, head.content) == (200, b"")


async def _echo(text: str) -> str:
    await asyncio.sleep(0)
    return text


async def test_class_based_views_are_not_kept_alive(settings: Settings) -> None:
    # MethodView makes a new instance, and new bound methods, for every request; the runtime's
    # per-function cache must not hold on to them.
    app = create_app(settings)
    instances: weakref.WeakSet[MethodView] = weakref.WeakSet()

    class Probe(MethodView):
        def __init__(self) -> None:
            instances.add(self)

        async def get(self) -> ResponseReturnValue:
            return jsonify(loop=id(asyncio.get_running_loop()))

    app.add_url_rule("/probe", view_func=Probe.as_view("probe"))
    async with served(app) as client:
        answers = [(await client.get("/probe")).json() for _ in range(5)]
    gc.collect()
    assert {a["loop"] for a in answers} == {id(asyncio.get_running_loop())}
    assert len(instances) == 0


_seen: ContextVar[str] = ContextVar("seen", default="fresh")


async def test_reused_portals_run_in_each_tasks_own_context() -> None:
    # Portals (the greenlets sync code runs in) are reused across requests. A server runs each
    # request in a task with its own context; a reused portal must see that task's context
    # variables (Flask's request context lives there), not the previous request's.
    def mark() -> tuple[str, str]:
        before = _seen.get()
        _seen.set("marked")
        runtime.run(asyncio.sleep(0))  # leave the portal and come back mid-call
        return before, _seen.get()

    def fail() -> None:
        runtime.run(asyncio.sleep(0))
        raise LookupError("boom")

    async def request(func: Callable[[], Any]) -> Any:
        return await runtime.call_with_portal(func)

    def new_task(func: Callable[[], Any]) -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(request(func), context=Context())

    for _ in range(3):
        assert await new_task(mark) == ("fresh", "marked")
        with pytest.raises(LookupError, match="boom"):
            await new_task(fail)
    together = await asyncio.gather(*(new_task(mark) for _ in range(20)))
    assert together == [("fresh", "marked")] * 20
    assert _seen.get() == "fresh"  # nor did anything leak into this task


async def test_a_cancelled_call_unwinds_its_sync_code() -> None:
    # Cancelling the task (a server shutting down, a timeout around it) reaches the coroutine
    # that sync code is waiting on; the sync code's cleanup runs and the task sees the error.
    cleaned_up = asyncio.Event()
    waiting = asyncio.Event()

    def sync_code() -> None:
        try:
            runtime.run(_wait_forever(waiting))
        finally:
            cleaned_up.set()

    task = asyncio.ensure_future(runtime.call_with_portal(sync_code))
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned_up.is_set()
    # The next call still works, waits included.
    assert await runtime.call_with_portal(runtime.run, _echo("again")) == "again"


async def test_greenlet_exit_in_sync_code_is_an_error_not_a_hang() -> None:
    def exits() -> None:
        raise greenlet.GreenletExit

    with pytest.raises(RuntimeError, match="GreenletExit"):
        await runtime.call_with_portal(exits)
    assert await runtime.call_with_portal(runtime.run, _echo("after")) == "after"


async def test_sync_code_in_its_own_greenlet_can_still_run_coroutines() -> None:
    # Libraries that run sync code in a greenlet of their own (SQLAlchemy's run_sync does)
    # nest inside the portal; run() there still waits on the request's loop.
    def in_nested_greenlet() -> str:
        nested = greenlet.greenlet(lambda: runtime.run(_echo("nested")))
        answer: str = nested.switch()
        return answer

    assert await runtime.call_with_portal(in_nested_greenlet) == "nested"


async def _wait_forever(started: asyncio.Event) -> None:
    started.set()
    await asyncio.Event().wait()
