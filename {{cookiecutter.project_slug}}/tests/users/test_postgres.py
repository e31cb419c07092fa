"""The PostgreSQL store when the database is down, stalled or out of connections: a 503 within
the deadline, never a 500 or an anonymous request, and recovery without a restart. The faults
are real: a TCP proxy in front of the server is closed, or stops passing bytes on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.users import StoreUnavailable
from {{ cookiecutter.package_name }}.users.sql.postgres import PostgresUserStore
from tests.support import PASSWORD, login, served

DEADLINE = 1.0


class Proxy:
    """A TCP proxy to the test server whose faults a test turns on and off."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.flowing = asyncio.Event()  # cleared: accept and read, but pass nothing on
        self.flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Refuse new connections and cut the open ones, as a server that went down."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[Proxy]:
    url = urlsplit(settings.database_url)
    proxy = Proxy((url.hostname or "127.0.0.1", url.port or 5432))
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def through(proxy: Proxy, settings: Settings) -> Settings:
    """``settings`` with the database reached through ``proxy``, and a short deadline."""
    url = urlsplit(settings.database_url)
    via = url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl()
    return settings.model_copy(update={"database_url": via, "database_timeout": DEADLINE})


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("postgresql://app@db:5432/users", "postgresql://app@db:5432/users"),
        ("postgres://app@db/users", "postgresql://app@db/users"),
        ("postgresql+asyncpg://app@db/users", "postgresql://app@db/users"),
    ],
)
def test_the_store_takes_a_postgresql_url_and_picks_its_driver(given: str, kept: str) -> None:
    assert Settings.model_validate({"database_url": given}).database_url == kept


@pytest.mark.parametrize("url", ["sqlite:///users.sqlite3", "mysql://db/users", "db:5432"])
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="must be a PostgreSQL URL"):
        Settings.model_validate({"database_url": url})


async def test_a_database_that_is_down_is_a_503_then_recovers(
    settings: Settings, proxy: Proxy
) -> None:
    async with served(create_app(through(proxy, settings))) as client:
        assert (await login(client)).status_code == 200
        await proxy.close()  # the server is gone: connections refused, open ones cut
        started = time.monotonic()
        me = await client.get("/auth/me")
        ready = await client.get("/readyz")
        health = await client.get("/healthz")
        logins = [await login(client) for _ in range(12)]  # more than the failed-login limit
        elapsed = time.monotonic() - started
        await proxy.start()  # back, on the same port
        recovered = await client.get("/auth/me")
        after = await login(client)
    assert me.status_code == 503
    assert me.json()["error"]["status"] == 503
    assert (ready.status_code, health.status_code) == (503, 200)
    assert {response.status_code for response in logins} == {503}  # never counted as failures
    assert elapsed < 15 * DEADLINE
    assert recovered.status_code == 200  # the login outlived the outage
    assert after.status_code == 200  # not throttled: no failed password was counted


async def test_a_stalled_database_is_a_503_within_the_deadline(
    settings: Settings, proxy: Proxy
) -> None:
    async with served(create_app(through(proxy, settings))) as client:
        assert (await login(client)).status_code == 200
        proxy.flowing.clear()
        started = time.monotonic()
        me = await client.get("/auth/me")
        waited = time.monotonic() - started
        proxy.flowing.set()
        again = await client.get("/auth/me")
    assert me.status_code == 503
    assert waited < DEADLINE + 2  # the deadline, not a hang
    assert again.status_code == 200


async def test_an_exhausted_pool_is_a_503_within_the_deadline(settings: Settings) -> None:
    store = PostgresUserStore(settings.database_url, pool_size=1, timeout=0.5)
    try:
        user = await store.authenticate("alice", PASSWORD)
        assert user is not None
        token = await store.start_login(user, timedelta(hours=1))
        pool = await store._get_pool(1)
        held = await pool.acquire()  # the pool's only connection, busy elsewhere
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"within 0\.5s"):
            await store.user_for_login(token)
        assert time.monotonic() - started < 2
        await pool.release(held)
        assert await store.user_for_login(token) == user  # the pool serves again
    finally:
        await store.close()


async def test_requests_share_the_pool_without_errors(settings: Settings) -> None:
    async with served(create_app(settings.model_copy(update={"database_pool_size": 3}))) as client:
        assert (await login(client)).status_code == 200
        answers = await asyncio.gather(*(client.get("/auth/me") for _ in range(40)))
    assert {answer.status_code for answer in answers} == {200}


async def test_lookups_made_together_share_a_query_and_each_gets_its_own_answer(
    settings: Settings,
) -> None:
    store = PostgresUserStore(settings.database_url, pool_size=2, timeout=5)
    try:
        alice = await store.authenticate("alice", PASSWORD)
        assert alice is not None
        bob = await store.create_user("bob", "bob's long passphrase")
        tokens = {
            "alice": await store.start_login(alice, timedelta(hours=1)),
            "bob": await store.start_login(bob, timedelta(hours=1)),
            "nobody": "not a login",
        }
        queries = 0
        query = store._logins._query

        async def counted(hashes: list[str]) -> dict[str, Any]:
            nonlocal queries
            queries += 1
            return await query(hashes)

        store._logins._query = counted
        names = list(tokens) * 10
        found = await asyncio.gather(*(store.user_for_login(tokens[name]) for name in names))
    finally:
        await store.close()
    expected = {"alice": alice, "bob": bob, "nobody": None}
    assert found == [expected[name] for name in names]
    assert queries == 1  # thirty lookups in one pass of the loop: one query
