"""The factory: what a worker opens when it starts serving, and closes when it stops."""

from __future__ import annotations

import gc

import pytest

from {{ cookiecutter.package_name }} import create_app
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
