{%- if cookiecutter.user_store == "sqlite" -%}
"""The test database for the SQLite store: a file per test; SQL run on it with ``sqlite3``."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }}.settings import Settings, sqlite_path


def store_settings(tmp_path: Path) -> dict[str, object]:
    """A new, empty database: a file in ``tmp_path``."""
    return {"database_url": f"sqlite:///{tmp_path / 'users.sqlite3'}"}


@contextlib.contextmanager
def around_the_run() -> Iterator[None]:
    """What the whole run needs: nothing, the files go with their ``tmp_path``."""
    yield


@contextlib.contextmanager
def around_each_test() -> Iterator[None]:
    """What each test needs: nothing more than its ``tmp_path``."""
    yield


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    """Run one SQL statement on the user store's database and commit; its rows."""
    path = sqlite_path(settings.database_url)
    assert path is not None
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        return db.execute(sql).fetchall()


def table_names(settings: Settings) -> set[str]:
    rows = query(settings, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in rows}
{%- elif cookiecutter.user_store == "postgres" -%}
"""The test databases for the PostgreSQL store: a fresh, empty one for each test, on the server
``TEST_DATABASE_URL`` names (default: the local one, database ``test``), with a random name so
that runs never collide; SQL run on them with asyncpg.

A database a test used is emptied when the test ends (its sessions ended, its ``public`` schema
dropped and made anew) and handed to a later test: creating and dropping a database costs a
checkpoint each, emptying one does not. The run drops its databases when it ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from {{ cookiecutter.package_name }}.settings import Settings

T = TypeVar("T")
SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: Every database the run made; those empty and free for the next test; those in use by this one.
_databases: list[str] = []
_free: list[str] = []
_in_use: list[str] = []


def store_settings(tmp_path: Path) -> dict[str, object]:
    """An empty database on the test server, for this test alone."""
    del tmp_path
    if _free:
        name = _free.pop()
    else:
        name = f"test_{secrets.token_hex(6)}"
        _blocking(_admin(f"CREATE DATABASE {name}"))
        _databases.append(name)
    _in_use.append(name)
    return {"database_url": _url(name)}


@contextlib.contextmanager
def around_the_run() -> Iterator[None]:
    """Around the whole run: drop every database it made."""
    try:
        yield
    finally:
        while _databases:
            _blocking(_admin(f"DROP DATABASE IF EXISTS {_databases.pop()} WITH (FORCE)"))


@contextlib.contextmanager
def around_each_test() -> Iterator[None]:
    """After each test: empty the databases it used, for later tests."""
    try:
        yield
    finally:
        used = list(_in_use)
        _in_use.clear()
        for name in used:
            _blocking(_empty(name))
            _free.append(name)


async def _empty(name: str) -> None:
    """End every other session on ``name`` (a server a test left running), then drop and make
    anew the ``public`` schema: its tables, sequences and Alembic's version row go with it."""
    conn = await asyncpg.connect(_url(name))
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def _url(name: str) -> str:
    return SERVER_URL.rsplit("/", 1)[0] + f"/{name}"


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    """Run one SQL statement on the user store's database; its rows."""

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return _blocking(run())


def table_names(settings: Settings) -> set[str]:
    rows = query(settings, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {name for (name,) in rows}


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(SERVER_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end in a thread of its own: callable from sync and async tests."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coro).result()
{%- elif cookiecutter.user_store == "http" -%}
"""The store is another service: in tests, the stand-in user service of ``user_service.py``,
one per test (the ``user_service`` fixture). Until a test points its settings at one, they
point at an address where nothing listens: a user service that is not there."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

#: The bearer token between the service and its stand-in user service.
USER_SERVICE_TOKEN = "test-users-api-token-" + "q8w7e6" * 6
#: Nothing listens here (the discard port).
ABSENT_USER_SERVICE = "http://127.0.0.1:9/"


def store_settings(tmp_path: Path) -> dict[str, object]:
    """A user service that is not there yet, and the token."""
    del tmp_path
    return {"user_service_url": ABSENT_USER_SERVICE, "user_service_token": USER_SERVICE_TOKEN}


@contextlib.contextmanager
def around_the_run() -> Iterator[None]:
    """What the whole run needs: nothing, each test starts its own user service."""
    yield


@contextlib.contextmanager
def around_each_test() -> Iterator[None]:
    """What each test needs: nothing more than its own user service."""
    yield
{%- endif %}
