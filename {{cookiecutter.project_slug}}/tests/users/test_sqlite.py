"""The SQLite store: login lookups made at once share their queries, and each caller still
gets its own answer, its own error, or its own cancellation; a file it cannot read is a 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.users import StoreUnavailable, User
from {{ cookiecutter.package_name }}.users.sql.engine import create_engine
from {{ cookiecutter.package_name }}.users.sql.sqlite import SQLUserStore
from tests.support import PASSWORD, make_settings, served

HOUR = timedelta(hours=1)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[SQLUserStore]:
    """The store as a server runs it: pooled, with its own two threads."""
    store = SQLUserStore(create_engine(settings.database_url, pool_size=2), threads=2)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def alice(store: SQLUserStore) -> tuple[User, str]:
    """``alice``, who the settings fixture created, logged in: her user and session token."""
    user = await store.authenticate("alice", PASSWORD)
    assert user is not None
    return user, await store.start_login(user, HOUR)


def count_lookup_queries(store: SQLUserStore) -> list[str]:
    """Every session-lookup statement the store sends to SQLite from now on."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM users JOIN logins" in statement:
            statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    return statements


async def test_concurrent_lookups_share_queries_and_each_gets_its_own_user(
    store: SQLUserStore, alice: tuple[User, str]
) -> None:
    bob = await store.create_user("bob", "another long password")
    carol = await store.create_user("carol", "a third long password")
    tokens = {
        "alice": alice[1],
        "bob": await store.start_login(bob, HOUR),
        "carol (expired)": await store.start_login(carol, -HOUR),
        "nobody": "a-token-nobody-was-given",
    }
    expected = {"alice": alice[0], "bob": bob, "carol (expired)": None, "nobody": None}
    assert await store.user_for_login(alice[1]) == alice[0]  # the store's threads exist
    queries = count_lookup_queries(store)

    callers = list(tokens) * 25
    answers = await asyncio.gather(*(store.user_for_login(tokens[who]) for who in callers))

    assert answers == [expected[who] for who in callers]
    # Made in one pass of the loop, the 100 lookups reach the store threads in a few batches.
    assert 1 <= len(queries) <= 10


async def test_a_failed_batch_fails_each_of_its_lookups_and_the_store_recovers(
    store: SQLUserStore, alice: tuple[User, str]
) -> None:
    user, token = alice
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE logins RENAME TO parked"))

    answers = await asyncio.gather(
        *(store.user_for_login(token) for _ in range(20)), return_exceptions=True
    )

    assert all(isinstance(answer, StoreUnavailable) for answer in answers)
    assert len({id(answer) for answer in answers}) == 20, "each caller raises its own error"
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE parked RENAME TO logins"))
    assert await store.user_for_login(token) == user


async def test_a_cancelled_lookup_does_not_hold_up_the_rest_of_its_batch(
    store: SQLUserStore, alice: tuple[User, str]
) -> None:
    """A request whose client went away is cancelled while its lookup waits in a batch."""
    user, token = alice
    assert await store.user_for_login(token) == user  # a store thread exists and is idle

    gone = asyncio.ensure_future(store.user_for_login(token))
    waiting = [asyncio.ensure_future(store.user_for_login(token)) for _ in range(3)]
    # The four lookups queue up together; the idle store thread cannot take them before
    # this task yields to the loop again, as it needs the GIL that this thread holds.
    await asyncio.sleep(0)
    gone.cancel()

    assert await asyncio.wait_for(asyncio.gather(*waiting), timeout=10) == [user] * 3
    assert gone.cancelled()
    assert await store.user_for_login(token) == user


async def test_lookups_after_close_fail_cleanly(settings: Settings) -> None:
    store = SQLUserStore(create_engine(settings.database_url, pool_size=2), threads=2)
    await store.close()
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(store.user_for_login("any-token"), timeout=10)


@pytest.mark.parametrize("broken", ["a directory", "not a database"])
async def test_a_database_that_cannot_be_read_is_a_503(tmp_path: Path, broken: str) -> None:
    """Whatever is wrong with the file, logins, lookups and readiness answer 503, never 500."""
    path = tmp_path / "users.sqlite3"
    if broken == "a directory":
        path.mkdir()
    else:
        path.write_bytes(b"this is not a SQLite database " * 100)
    settings = make_settings(tmp_path, database_url=f"sqlite:///{path}")
    async with served(create_app(settings)) as client:
        ready = await client.get("/readyz")
        login = await client.post("/auth/login", json={"username": "a", "password": "b"})
    assert ready.status_code == 503
    assert login.status_code == 503
    assert login.headers["retry-after"] == "5"
    assert "Traceback" not in login.text


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://localhost/users",  # this store is SQLite
        "sqlite+aiosqlite:///users.db",  # another driver than the store's
        "sqlite:///:memory:",  # one empty database per pooled connection
        "sqlite://",
    ],
)
def test_only_a_sqlite_file_is_accepted_as_the_user_store(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({"database_url": url})
    message = refused.value.errors()[0]["msg"]
    # The example it offers is a file URL, whatever was given.
    assert message.endswith("must be a SQLite file URL such as sqlite:///instance/users.sqlite3")
