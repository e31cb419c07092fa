"""The login flow over the ASGI entrypoint: login, me, logout, and their failure answers."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import PASSWORD, expire_logins, login, store_unavailable


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


async def test_expired_logins_are_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    """The server keeps each login's expiry: past it, the cookie no longer logs anyone in."""
    assert (await login(client)).status_code == 200
    assert (await client.get("/auth/me")).status_code == 200
    expire_logins(settings)
    assert (await client.get("/auth/me")).status_code == 401


async def test_logged_in_requests_get_503_while_the_store_cannot_answer(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """A lookup that fails in the store is a 503 with Retry-After, and the login survives it."""
    assert (await login(client)).status_code == 200
    with store_unavailable(settings):
        me = await client.get("/auth/me")
    assert me.status_code == 503
    assert me.headers["retry-after"] == "5"
    assert me.json()["error"]["status"] == 503
    assert "Traceback" not in me.text
    assert (await client.get("/auth/me")).status_code == 200
