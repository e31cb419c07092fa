"""The account lifecycle as its user meets it: a password change ends every login and token,
old cookies included; a deactivated user's login fails exactly as a wrong password does."""

from __future__ import annotations

import asyncio

import httpx

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import PASSWORD, login, run_cli, served

NEW = "a brand new passphrase"


async def change(client: httpx.AsyncClient, current: str, new: str) -> httpx.Response:
    body = {"current_password": current, "new_password": new}
    return await client.post("/auth/password", json=body)


async def test_a_password_change_ends_every_login_and_token(settings: Settings) -> None:
    async with served(create_app(settings)) as client, served(create_app(settings)) as other:
        await login(other)  # another browser, elsewhere
        await login(client)
        token = (await client.post("/auth/tokens", json={"name": "ci"})).json()["token"]
        old_cookie = client.cookies["session"]
        assert (await change(client, PASSWORD, NEW)).status_code == 204
        assert (await client.get("/auth/me")).status_code == 401
        assert (await other.get("/auth/me")).status_code == 401
        client.cookies.set("session", old_cookie)
        replayed = await client.get("/auth/me")
        with_token = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        old = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        new = await client.post("/auth/login", json={"username": "alice", "password": NEW})
    assert replayed.status_code == 401
    assert with_token.status_code == 401
    assert old.status_code == 401
    assert new.status_code == 200


async def test_a_password_change_needs_the_current_password_and_a_good_new_one(
    client: httpx.AsyncClient,
) -> None:
    await login(client)
    assert (await change(client, "not it at all", NEW)).status_code == 403
    for weak in ("short", "password123", "alice", "qwertyuiop"):
        answer = await change(client, PASSWORD, weak)
        assert answer.status_code == 422, weak
    assert (await client.get("/auth/me")).status_code == 200  # nothing changed


async def test_wrong_current_passwords_are_throttled(settings: Settings) -> None:
    limited = settings.model_copy(update={"login_rate_limit": "3 per minute"})
    async with served(create_app(limited)) as client:
        await login(client)
        statuses = [(await change(client, "wrong guess", NEW)).status_code for _ in range(4)]
        right = await change(client, PASSWORD, NEW)
    assert statuses == [403, 403, 403, 429]
    assert right.status_code == 429


async def test_a_token_cannot_change_the_password(client: httpx.AsyncClient) -> None:
    await login(client)
    token = (await client.post("/auth/tokens", json={"name": "ci"})).json()["token"]
    client.cookies.clear()
    answer = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403


async def test_a_deactivated_user_gets_the_answer_of_a_wrong_password(settings: Settings) -> None:
    shell = create_app(settings)  # the CLI is another process, with an app of its own
    async with served(create_app(settings)) as client:
        await login(client)
        token = (await client.post("/auth/tokens", json={"name": "ci"})).json()["token"]
        # The CLI waits on its own loop: from a thread, as a shell would be another process.
        assert (await asyncio.to_thread(run_cli, shell, "users", "deactivate", "alice"))[0] == 0
        me = await client.get("/auth/me")
        by_token = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        inactive = await client.post(
            "/auth/login", json={"username": "alice", "password": PASSWORD}
        )
        wrong = await client.post("/auth/login", json={"username": "alice", "password": "nope!"})
        assert (await asyncio.to_thread(run_cli, shell, "users", "activate", "alice"))[0] == 0
        again = await login(client)
    assert (me.status_code, by_token.status_code) == (401, 401)
    assert inactive.status_code == wrong.status_code == 401
    assert inactive.json() == wrong.json()
    assert again.status_code == 200
