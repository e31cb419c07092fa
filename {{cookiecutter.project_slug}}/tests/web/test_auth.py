"""The login flow over the ASGI entrypoint: login, me, logout, and their failure answers."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.bridge import ASGIAdapter
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.users import passwords
from {{ cookiecutter.package_name }}.users.sql.tables import logins
from tests.support import PASSWORD, abandoned_request, login


async def test_login_me_logout(client: httpx.AsyncClient) -> None:
    response = await login(client)
    assert response.status_code == 200
    assert response.json() == {"id": 1, "username": "alice"}
    assert "session" in response.cookies

    me = await client.get("/auth/me")
    assert me.status_code == 200
    assert me.json() == {"id": 1, "username": "alice"}

    assert (await client.post("/auth/logout")).status_code == 204
    after = await client.get("/auth/me")
    assert after.status_code == 401
    assert after.json()["error"]["status"] == 401


async def test_login_with_form_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert (await client.get("/auth/me")).status_code == 200


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong password!"), ("nobody", PASSWORD)]
)
async def test_wrong_credentials_get_the_same_401(
    client: httpx.AsyncClient, username: str, password: str
) -> None:
    response = await client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.json()["error"]["detail"] == "Wrong username or password."
    assert "session" not in response.cookies


async def test_anonymous_json_client_gets_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/me", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"


async def test_browser_is_redirected_to_the_login_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/me", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 302
    assert response.headers["location"] == "/auth/login?next=/auth/me"
    page = await client.get(response.headers["location"])
    assert page.status_code == 200
    assert '<form method="post" action="/auth/login">' in page.text
    assert 'name="next" value="/auth/me"' in page.text


async def test_remember_me_restores_the_login_without_a_session(
    client: httpx.AsyncClient,
) -> None:
    response = await login(client, remember=True)
    remember = response.cookies["remember"]
    client.cookies.clear()
    client.cookies.set("remember", remember)
    me = await client.get("/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


async def test_logout_when_anonymous_is_harmless(client: httpx.AsyncClient) -> None:
    assert (await client.post("/auth/logout")).status_code == 204


async def test_logins_and_lookups_are_not_held_up_by_busy_default_threads(
    client: httpx.AsyncClient,
) -> None:
    """asyncio's default threads can all be busy (blocking calls, DNS lookups); the store runs
    its queries and its password hashes in threads of its own, so logins and logged-in
    requests still answer."""
    assert (await login(client)).status_code == 200
    release = threading.Event()
    # More blockers than the default executor has threads (at most 32): all of them stay busy.
    blockers = [asyncio.ensure_future(asyncio.to_thread(release.wait, 30)) for _ in range(40)]
    try:
        me = await asyncio.wait_for(client.get("/auth/me"), timeout=10)
        assert me.status_code == 200
        assert me.json()["username"] == "alice"
        again = await asyncio.wait_for(login(client), timeout=10)
        assert again.status_code == 200
    finally:
        release.set()
        await asyncio.gather(*blockers)


async def test_a_burst_of_logins_hashes_a_bounded_number_at_a_time(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each argon2id hash in flight holds 64 MiB: however many logins arrive at once, no more
    than ``password_hash_threads`` are hashed at a time, so their memory stays bounded."""
    lock = threading.Lock()
    running, most_at_once, threads = 0, 0, set()
    verify = passwords._verify

    def counted(password_hash: str, password: str) -> bool:
        nonlocal running, most_at_once
        with lock:
            running += 1
            most_at_once = max(most_at_once, running)
            threads.add(threading.current_thread().name)
        try:
            return verify(password_hash, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(passwords, "_verify", counted)
    answers = await asyncio.gather(*(login(client) for _ in range(8)))
    assert [answer.status_code for answer in answers] == [200] * 8
    assert most_at_once == settings.password_hash_threads == 2
    assert all(name.startswith("password-hash") for name in threads)


async def test_logins_abandoned_by_their_clients_are_not_hashed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that gives up on its login (a timeout, a closed tab) costs no argon2 hash.

    Each hash costs tens of milliseconds of CPU; logins queue for the few hash threads, and
    under a burst the clients at the back of the queue give up first. Their requests are
    cancelled, so their hashes are never started: only those already running finish.
    """
    loop = asyncio.get_running_loop()
    release, all_busy = threading.Event(), asyncio.Event()
    hashed: list[str] = []
    verify = passwords._verify

    def held(password_hash: str, password: str) -> bool:
        hashed.append(threading.current_thread().name)
        if len(hashed) == settings.password_hash_threads:
            loop.call_soon_threadsafe(all_busy.set)
        release.wait(timeout=30)
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", held)
    body = json.dumps({"username": "alice", "password": PASSWORD}).encode()
    gone = asyncio.Event()
    async with LifespanManager(ASGIAdapter(create_app(settings))) as manager:
        try:
            abandoned = [
                asyncio.ensure_future(
                    abandoned_request(manager.app, "POST", "/auth/login", gone, body)
                )
                for _ in range(8)
            ]
            await asyncio.wait_for(all_busy.wait(), timeout=10)
            gone.set()
            answers = await asyncio.wait_for(asyncio.gather(*abandoned), timeout=10)
        finally:
            release.set()
        assert answers == [[]] * 8  # nothing was sent to the clients that left
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await login(client)).status_code == 200
    assert len(hashed) == settings.password_hash_threads + 1


@contextmanager
def database(settings: Settings) -> Iterator[sa.Connection]:
    """A transaction on the service's SQLite file, from outside the service."""
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


async def test_expired_logins_are_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    """The server keeps each login's expiry: past it, the cookie no longer logs anyone in."""
    assert (await login(client)).status_code == 200
    assert (await client.get("/auth/me")).status_code == 200
    with database(settings) as conn:
        expired = datetime.now(UTC) - timedelta(seconds=1)
        conn.execute(sa.update(logins).values(expires_at=expired))
    assert (await client.get("/auth/me")).status_code == 401


async def test_logged_in_requests_get_503_while_the_store_cannot_answer(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """A lookup that fails in SQLite is a 503 with Retry-After, and the login survives it."""
    assert (await login(client)).status_code == 200
    with database(settings) as conn:
        conn.execute(sa.text("ALTER TABLE logins RENAME TO parked"))
    me = await client.get("/auth/me")
    assert me.status_code == 503
    assert me.headers["retry-after"] == "5"
    assert me.json()["error"]["status"] == 503
    assert "Traceback" not in me.text
    with database(settings) as conn:
        conn.execute(sa.text("ALTER TABLE parked RENAME TO logins"))
    assert (await client.get("/auth/me")).status_code == 200
