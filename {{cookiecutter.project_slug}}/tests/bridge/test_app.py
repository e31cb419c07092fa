"""LoopFlask: one loop for views, the user lookup and the shared client; sync views in
threads; Flask's test client still works without a server."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from contextvars import ContextVar
from typing import Any

import httpx
import pytest
from flask import jsonify
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from flask_login import current_user

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.resources import EXTENSION_KEY
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import PASSWORD, login, served, watch_stores


@pytest.fixture
def lookup_loops(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy: the loop every user lookup ran on (the real lookup still runs)."""
    return watch_stores(monkeypatch, "user_for_login").loops["user_for_login"]


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
    created: list[httpx.AsyncClient] = []
    send_loops: list[int] = []
    original_init = httpx.AsyncClient.__init__
    original_send = httpx.AsyncClient.send

    def the_apps(client: httpx.AsyncClient) -> bool:
        return not isinstance(client._transport, httpx.ASGITransport)  # not the test's own

    def counting_init(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if the_apps(self):
            created.append(self)

    async def spying_send(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> Any:
        # Every call the client makes goes through here.
        if the_apps(self):
            send_loops.append(id(asyncio.get_running_loop()))
        return await original_send(self, *args, **kwargs)

    app = create_app(settings.model_copy(update={"upstream_url": upstream + "/"}))
    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)
    monkeypatch.setattr(httpx.AsyncClient, "send", spying_send)
    async with served(app) as client:
        shared = app.extensions[EXTENSION_KEY].http
        await login(client)
        answers = await asyncio.gather(*(client.get("/upstream") for _ in range(50)))
        me = await client.get("/auth/me")
    assert [a.status_code for a in answers] == [200] * 50
    assert me.status_code == 200
    # The app built exactly one client, at startup, and made every call through it, on the
    # server's loop.
    assert created == [shared]
    server_loop = id(asyncio.get_running_loop())
    assert set(send_loops) == {server_loop}
{%- if cookiecutter.user_store == "http" %}
    # The user store's calls too: the password check and the new login, then the lookup.
    assert len(send_loops) == 50 + 3
{%- else %}
    assert len(send_loops) == 50
{%- endif %}
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


def test_flask_test_client_works_without_a_server(settings: Settings) -> None:
    app = create_app(settings)
    with app.test_client() as client:
        response = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 200
        assert client.get("/auth/me").get_json() == {"id": 1, "username": "alice"}
        assert client.post("/auth/logout").status_code == 204
        assert client.get("/auth/me").status_code == 401


_bound: ContextVar[str] = ContextVar("bound", default="unset")


def test_the_test_client_sees_what_async_hooks_set_in_context_variables(
    settings: Settings,
) -> None:
    # As with stock Flask (asgiref), a value an async hook binds, structlog's
    # bind_contextvars say, is seen by the view and by the hooks after it.
    app = create_app(settings)
    seen: list[str] = []

    @app.before_request
    async def bind() -> None:
        _bound.set("bound by an async hook")

    @app.get("/bound")
    async def bound() -> ResponseReturnValue:
        seen.append(_bound.get())
        _bound.set("set by the view")
        return jsonify()

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        seen.append(_bound.get())

    assert app.test_client().get("/bound").status_code == 200
    assert seen == ["bound by an async hook", "set by the view"]
