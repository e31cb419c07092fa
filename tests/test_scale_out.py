"""Several workers and instances of a PostgreSQL service: two instances, each with two Hypercorn
workers, on one PostgreSQL database and one Redis, behave as one service."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest
from live import PASSWORD, LiveService, ensure_redis, live_service

SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture(scope="module")
def postgres_service(cookies_session: Any) -> Path:
    result = cookies_session.bake(extra_context={"user_store": "postgres"})
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own on the machine's PostgreSQL, dropped afterwards."""
    name = f"scale_{secrets.token_hex(6)}"
    admin(f"CREATE DATABASE {name}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(f"{SERVER}/test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def test_two_instances_of_two_workers_share_logins_and_counts(
    postgres_service: Path, tmp_path: Path, database: str
) -> None:
    env = {
        "MY_SERVICE_DATABASE_URL": database,
        "MY_SERVICE_SECRET_KEY": secrets.token_urlsafe(48),  # one key for every instance
        "MY_SERVICE_RATE_LIMIT_STORAGE_URI": ensure_redis(),
        "MY_SERVICE_LOGIN_RATE_LIMIT": "4 per minute",
    }
    workers = ("--workers", "2")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        live_service(postgres_service, tmp_path / "a", env, serve_args=workers) as first,
        live_service(
            postgres_service, tmp_path / "b", env, serve_args=workers, prepare=False
        ) as second,
    ):
        assert_workers(first, 2)
        with httpx.Client(base_url=first.url) as on_first:
            login = on_first.post("/auth/login", json={"username": "alice", "password": PASSWORD})
            assert login.status_code == 200
            cookies = dict(on_first.cookies)
            # Every worker of both instances knows the login, for several requests each.
            for url in (first.url, second.url) * 4:
                assert httpx.get(f"{url}/auth/me", cookies=cookies).status_code == 200
            # Logging out on the first ends it on the second at once.
            assert on_first.post("/auth/logout").status_code == 204
        for url in (first.url, second.url) * 4:
            assert httpx.get(f"{url}/auth/me", cookies=cookies).status_code == 401
        # Failed logins spread over both instances add up (the counters are in Redis).
        guess = {"username": f"probe-{secrets.token_hex(6)}", "password": "not the password"}
        statuses = [
            httpx.post(f"{url}/auth/login", json=guess).status_code
            for url in (first.url, second.url, first.url, second.url, first.url)
        ]
    assert statuses == [401, 401, 401, 401, 429]


def assert_workers(service: LiveService, count: int) -> None:
    children = psutil.Process(service.process.pid).children()
    workers = [child for child in children if "resource_tracker" not in " ".join(child.cmdline())]
    assert len(workers) == count, service.output()
