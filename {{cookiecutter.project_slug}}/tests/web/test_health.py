"""Liveness and readiness."""

from __future__ import annotations

from pathlib import Path

import httpx

from {{ cookiecutter.package_name }} import create_app
from tests.support import make_settings, served


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_readyz_is_503_before_the_schema_exists(tmp_path: Path) -> None:
    async with served(create_app(make_settings(tmp_path))) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"]["detail"] == "The user store is not available."
