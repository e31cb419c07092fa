"""The factory: what a worker opens when it starts serving, and closes when it stops; and the
ASGI app it is served as, behind a proxy or not."""

from __future__ import annotations

import gc
import json

import pytest
from flask import jsonify, request
from flask.typing import ResponseReturnValue

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.bridge import LoopFlask
from {{ cookiecutter.package_name }}.resources import EXTENSION_KEY
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import served, watch_stores


async def test_lifespan_opens_and_closes_the_shared_clients(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = watch_stores(monkeypatch, "close")
    app = create_app(settings)
    resources = app.extensions[EXTENSION_KEY]
    async with served(app) as client:
        http, store = resources.http, resources.store
        assert (await client.get("/readyz")).status_code == 200
        assert not http.is_closed
        assert calls.loops["close"] == []
    assert http.is_closed
    assert calls.stores == [store]  # one store, made at start-up
    assert len(calls.loops["close"]) == 1  # and closed at shut-down


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


#: What a client behind one proxy sends: it wrote the first address itself (anyone can), the
#: proxy appended the address it saw and the scheme and host it was reached by.
FORWARDED = {
    "X-Forwarded-For": "198.51.100.9, 203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "api.example.com",
}


def peer_app(settings: Settings, **overrides: object) -> LoopFlask:
    """The app with JSON logs and a view that says whom Flask thinks it is talking to."""
    app = create_app(settings.model_copy(update={"log_format": "json", **overrides}))

    @app.get("/test/peer")
    async def peer() -> ResponseReturnValue:
        return jsonify(addr=request.remote_addr, scheme=request.scheme, host=request.host)

    return app


async def test_behind_a_trusted_proxy_the_client_is_the_one_it_forwarded(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with served(peer_app(settings, trusted_proxy_hops=1)) as client:
        response = await client.get("/test/peer", headers=FORWARDED)
    assert response.json() == {"addr": "203.0.113.7", "scheme": "https", "host": "api.example.com"}
    lines = capsys.readouterr().err.splitlines()
    (access,) = [json.loads(line) for line in lines if '"event": "request"' in line]
    assert access["client"] == "203.0.113.7"


async def test_forwarded_headers_are_ignored_unless_a_proxy_is_trusted(settings: Settings) -> None:
    async with served(peer_app(settings)) as client:
        response = await client.get("/test/peer", headers=FORWARDED)
    assert response.json() == {"addr": "127.0.0.1", "scheme": "http", "host": "testserver"}


async def test_behind_a_proxy_failed_logins_count_per_client_not_per_proxy(
    settings: Settings,
) -> None:
    app = peer_app(settings, trusted_proxy_hops=1, login_rate_limit="2 per minute")
    guess = {"username": "alice", "password": "not the password"}
    first, second = ({"X-Forwarded-For": address} for address in ("203.0.113.7", "203.0.113.8"))
    async with served(app) as client:
        from_first = [
            (await client.post("/auth/login", json=guess, headers=first)).status_code
            for _ in range(3)
        ]
        from_second = await client.post("/auth/login", json=guess, headers=second)
    assert from_first == [401, 401, 429]
    assert from_second.status_code == 401
