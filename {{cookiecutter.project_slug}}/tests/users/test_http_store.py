"""The HTTP store fails closed against a real user service on 127.0.0.1 (the stand-in in
``tests/user_service.py``) that is down, slow, or answers garbage: logins and logged-in requests
get 503 within the deadline, never 500, never an anonymous or a stale user, and a login that
could not be checked is never counted as a failed password. It recovers without a restart."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.clients.http import new_client
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.users import StoreUnavailable, User, UsernameTaken, api
from {{ cookiecutter.package_name }}.users.http_store import HTTPUserStore
from tests.store import USER_SERVICE_TOKEN
from tests.support import PASSWORD, login, served
from tests.user_service import Mode, UserService

GARBAGE: list[Mode] = ["html", "wrong-shape", "error", "drop", "not-http"]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client as the worker makes it (the default transport)."""
    async with new_client(connect_timeout=1, read_timeout=5, max_connections=10) as client:
        yield client


def store_for(
    http: httpx.AsyncClient, url: str, *, timeout: float = 5, retries: int = 2
) -> HTTPUserStore:
    return HTTPUserStore(
        http, url, token=USER_SERVICE_TOKEN, timeout=timeout, connect_timeout=1, retries=retries
    )


async def test_each_call_of_the_contract(
    http: httpx.AsyncClient, user_service: UserService
) -> None:
    store = store_for(http, user_service.url)
    bob = await store.create_user("bob", PASSWORD)
    with pytest.raises(UsernameTaken):
        await store.create_user("bob", PASSWORD)
    assert await store.authenticate("bob", PASSWORD) == bob
    assert await store.authenticate("bob", "not the password") is None
    assert await store.authenticate("nobody", PASSWORD) is None
    token = await store.start_login(bob, timedelta(hours=1))
    assert await store.user_for_login(token) == bob
    await store.end_login(token)
    assert await store.user_for_login(token) is None
    await store.end_login(token)  # ending it again is harmless
    await store.ping()


async def test_secrets_travel_in_bodies_never_in_urls(
    client: httpx.AsyncClient, user_service: UserService
) -> None:
    """Proxies and access logs keep URLs: no password, login token or API token goes there."""
    assert (await login(client)).status_code == 200
    assert (await client.get("/auth/me")).status_code == 200
    assert (await client.post("/auth/logout")).status_code == 204
    paths = {api.AUTHENTICATE, api.START_LOGIN, api.LOOKUP_LOGIN, api.END_LOGIN}
    assert {url.lstrip("/") for url in user_service.urls} >= paths
    (login_token,) = user_service.tokens_given
    for secret in (PASSWORD, login_token, USER_SERVICE_TOKEN):
        assert not any(secret in url for url in user_service.urls)


async def test_a_user_service_that_is_down_is_a_503_until_it_is_back(
    client: httpx.AsyncClient, user_service: UserService
) -> None:
    assert (await login(client)).status_code == 200
    with user_service.down():  # its port closed: every connection is refused
        me = await client.get("/auth/me")
        refused = await login(client)
        ready, health = await client.get("/readyz"), await client.get("/healthz")
    assert (me.status_code, refused.status_code, ready.status_code) == (503, 503, 503)
    assert me.headers["retry-after"] == "5"
    assert "Traceback" not in me.text
    assert health.status_code == 200
    # Back up: the same worker, the same login, no restart.
    assert (await client.get("/auth/me")).json()["username"] == "alice"
    assert (await client.get("/readyz")).status_code == 200


async def test_a_slow_user_service_is_a_503_at_the_deadline(
    settings: Settings, user_service: UserService
) -> None:
    """The answer is 503 while the user service still holds the call: the deadline ended it."""
    quick = settings.model_copy(update={"user_service_timeout": 0.5})
    async with served(create_app(quick)) as client:
        assert (await login(client)).status_code == 200
        user_service.mode = "slow"  # answers only once released
        started = time.monotonic()
        me = await asyncio.wait_for(client.get("/auth/me"), timeout=30)
        refused = await asyncio.wait_for(login(client), timeout=30)
        took = time.monotonic() - started
        user_service.mode = "ok"
        user_service.release()
        assert (await client.get("/auth/me")).status_code == 200
    assert (me.status_code, refused.status_code) == (503, 503)
    assert user_service.calls[api.LOOKUP_LOGIN] >= 2  # it was asked, and had not answered
    assert took >= 2 * 0.5  # each waited for its deadline, no less


@pytest.mark.parametrize("mode", GARBAGE)
async def test_a_user_service_answering_garbage_is_a_503(
    client: httpx.AsyncClient, user_service: UserService, mode: Mode
) -> None:
    """An HTML page, a body of the wrong shape (an id as a string), a 500, a connection closed
    without an answer, bytes that are not HTTP: each is a 503, never 500 or anonymous."""
    assert (await login(client)).status_code == 200
    user_service.mode = mode
    me, refused, ready = (
        await client.get("/auth/me"),
        await login(client),
        await client.get("/readyz"),
    )
    user_service.mode = "ok"
    assert (me.status_code, refused.status_code, ready.status_code) == (503, 503, 503)
    assert "session" not in refused.cookies
    assert (await client.get("/auth/me")).status_code == 200


async def test_logins_the_store_could_not_check_are_not_failed_passwords(
    settings: Settings, user_service: UserService
) -> None:
    strict = settings.model_copy(update={"login_rate_limit": "1 per minute"})
    async with served(create_app(strict)) as client:
        wrong = {"username": "alice", "password": "not the password"}
        with user_service.down():
            codes = [(await client.post("/auth/login", json=wrong)).status_code for _ in range(3)]
        assert codes == [503] * 3  # not 401 then 429: nothing was counted
        assert (await login(client)).status_code == 200


async def test_a_login_ended_at_the_user_service_stops_working_at_once(
    client: httpx.AsyncClient, user_service: UserService
) -> None:
    """Nothing is cached here: another consumer's logout (or an admin's) counts at once."""
    assert (await login(client)).status_code == 200
    assert (await client.get("/auth/me")).status_code == 200
    user_service.store.logins.clear()
    assert (await client.get("/auth/me")).status_code == 401


async def test_only_calls_safe_to_repeat_are_retried(
    http: httpx.AsyncClient, user_service: UserService
) -> None:
    """With every connection closed unanswered, reads, ending a login and account changes that
    set a state are tried 1 + retries times; creating a user, a login or a token, and revoking
    a token, only once: a repeat could make a second one, or misreport the first."""
    store = store_for(http, user_service.url, retries=2)
    alice, token = User(id=1, username="alice"), "a-login-token-of-some-length"
    calls: list[tuple[str, Callable[[], Awaitable[object]], int]] = [
        (api.AUTHENTICATE, lambda: store.authenticate("alice", PASSWORD), 3),
        (api.LOOKUP_LOGIN, lambda: store.user_for_login(token), 3),
        (api.END_LOGIN, lambda: store.end_login(token), 3),
        (api.ACCOUNT, lambda: store.account("alice"), 3),
        (api.SET_PASSWORD, lambda: store.set_password(1, "a new passphrase"), 3),
        (api.SET_ACTIVE, lambda: store.set_active(1, False), 3),
        (api.DELETE_USER, lambda: store.delete_user(1), 3),
        (api.LIST_TOKENS, lambda: store.access_tokens(1), 3),
        (api.LOOKUP_TOKEN, lambda: store.user_for_access_token("tok_" + token), 3),
        (api.CREATE_USER, lambda: store.create_user("bob", PASSWORD), 1),
        (api.START_LOGIN, lambda: store.start_login(alice, timedelta(hours=1)), 1),
        (api.CREATE_TOKEN, lambda: store.create_access_token(1, "ci", (), None), 1),
        (api.REVOKE_TOKEN, lambda: store.revoke_access_token(1, 1), 1),
        # GETs: aiohttp itself repeats a GET once when a connection closes unanswered, so
        # these are tried 3 or 6 times, depending on aiohttp's version.
        (api.PING, store.ping, 3),
        (api.ACCOUNTS, store.accounts, 3),
    ]
    user_service.mode = "drop"
    for path, call, _ in calls:
        with pytest.raises(StoreUnavailable, match=re.escape(f"{path}: ConnectError")):
            await call()
    tried = {path: user_service.calls[path] for path, _, _ in calls}
    expected = {path: times for path, _, times in calls}
    for get in (api.PING, api.ACCOUNTS):
        assert tried.pop(get) in (expected.pop(get), 2 * 3)
    assert tried == expected


async def test_the_deadline_bounds_the_retries_too(
    http: httpx.AsyncClient, user_service: UserService
) -> None:
    store = store_for(http, user_service.url, timeout=0.5, retries=1000)
    with user_service.down(), pytest.raises(StoreUnavailable, match=r"no answer within 0\.5 s"):
        await asyncio.wait_for(store.user_for_login("a-login-token-of-some-length"), 30)


async def test_a_wrong_token_is_a_503_that_says_so(settings: Settings) -> None:
    wrong = settings.model_copy(update={"user_service_token": SecretStr("not-the-token")})
    async with served(create_app(wrong)) as client:
        ready = await client.get("/readyz")
        refused = await login(client)
    assert (ready.status_code, refused.status_code) == (503, 503)
    assert "answered 401" in ready.json()["error"]["reason"]


@pytest.mark.parametrize("url", ["127.0.0.1:8001", "ftp://users.internal/", "users"])
def test_the_user_service_url_must_be_http(url: str) -> None:
    with pytest.raises(ValidationError, match="must be an http:// or https:// URL"):
        Settings.model_validate({"user_service_url": url})


def test_production_needs_the_user_service_token() -> None:
    strong = "Zx8-" + "q7Lm2Vr9Tk4Wb6Ns" * 3
    with pytest.raises(ValidationError, match="USER_SERVICE_TOKEN must be set"):
        Settings.model_validate({"env": "production", "secret_key": strong})
