"""The internal users API (``web/users_api.py``): this service as another's user service. Off
unless its token is set; every call needs the token; each call does what the contract in
``users/api.py`` says, and no answer carries a password hash or echoes a password."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.users import api
from tests.support import PASSWORD, served, store_unavailable

TOKEN = "users-api-token-" + "Hq3Zp8Lw" * 4
BEARER = {"Authorization": f"Bearer {TOKEN}"}
CALLS = [
    ("POST", api.AUTHENTICATE),
    ("POST", api.CREATE_USER),
    ("POST", api.START_LOGIN),
    ("POST", api.LOOKUP_LOGIN),
    ("POST", api.END_LOGIN),
    ("GET", api.PING),
]


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service with the API on, to a client that sends the token on every call."""
    on = settings.model_copy(update={"users_api_token": SecretStr(TOKEN)})
    async with served(create_app(on)) as client:
        client.headers.update(BEARER)
        yield client


async def call(client: httpx.AsyncClient, path: str, **body: object) -> httpx.Response:
    return await client.post(f"/{path}", json=body)


@pytest.mark.parametrize(("method", "path"), [*CALLS, ("GET", api.CREATE_USER)])
async def test_the_api_does_not_exist_without_its_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """Off by default: 404, even for a method no call uses. (A bearer token would be taken for
    a user's access token, as on any route, and refused with 401.)"""
    response = await client.request(method, f"/{path}", json={})
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
async def test_every_call_needs_the_token(
    provider: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    provider.headers.pop("Authorization")
    body = {"username": "alice", "password": PASSWORD}
    for method, path in CALLS:
        response = await provider.request(method, f"/{path}", headers=headers, json=body)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["status"] == 401


async def test_each_call(provider: httpx.AsyncClient) -> None:
    created = await call(provider, api.CREATE_USER, username=" bob ", password=PASSWORD)
    assert created.status_code == 201
    bob = created.json()["user"]
    assert bob == {"id": bob["id"], "username": "bob"}  # normalized, as the CLI does
    again = await call(provider, api.CREATE_USER, username="bob", password=PASSWORD)
    assert again.status_code == 409

    checked = await call(provider, api.AUTHENTICATE, username="bob", password=PASSWORD)
    assert (checked.status_code, checked.json()) == (200, {"user": bob})
    for username, password in [("bob", "not the password"), ("nobody", PASSWORD)]:
        wrong = await call(provider, api.AUTHENTICATE, username=username, password=password)
        assert (wrong.status_code, wrong.json()) == (200, {"user": None})

    started = await call(provider, api.START_LOGIN, user=bob, lifetime_seconds=3600)
    assert started.status_code == 201
    token = started.json()["token"]
    looked_up = await call(provider, api.LOOKUP_LOGIN, token=token)
    assert looked_up.json() == {"user": bob}
    assert (await call(provider, api.END_LOGIN, token=token)).status_code == 204
    assert (await call(provider, api.LOOKUP_LOGIN, token=token)).json() == {"user": None}
    assert (await call(provider, api.END_LOGIN, token=token)).status_code == 204  # again: fine

    pong = await provider.get(f"/{api.PING}")
    assert (pong.status_code, pong.json()) == (200, {"status": "ok"})
    assert pong.headers["cache-control"] == "no-store"


async def test_each_account_and_token_call(provider: httpx.AsyncClient) -> None:
    accounts = (await provider.get(f"/{api.ACCOUNTS}")).json()["accounts"]
    assert [(a["username"], a["is_active"]) for a in accounts] == [("alice", True)]
    alice = (await call(provider, api.ACCOUNT, username="alice")).json()["account"]
    assert alice == accounts[0]
    assert (await call(provider, api.ACCOUNT, username="nobody")).json() == {"account": None}
    user_id = alice["id"]

    made = await call(
        provider, api.CREATE_TOKEN, user_id=user_id, name="ci", scopes=["a:read"], expires_at=None
    )
    assert made.status_code == 201
    token, secret = made.json()["token"], made.json()["secret"]
    assert (token["name"], token["scopes"], token["expires_at"]) == ("ci", ["a:read"], None)
    found = (await call(provider, api.LOOKUP_TOKEN, token=secret)).json()["found"]
    user = {"id": user_id, "username": "alice"}
    assert found == {"user": user, "token_id": token["id"], "scopes": ["a:read"]}
    listed = (await call(provider, api.LIST_TOKENS, user_id=user_id)).json()["tokens"]
    assert listed == [token]
    assert secret not in str(listed)
    revoke = {"user_id": user_id, "token_id": token["id"]}
    assert (await call(provider, api.REVOKE_TOKEN, **revoke)).json() == {"revoked": True}
    assert (await call(provider, api.REVOKE_TOKEN, **revoke)).json() == {"revoked": False}

    login = await call(provider, api.START_LOGIN, user=user, lifetime_seconds=60)
    assert login.status_code == 201
    common = await call(provider, api.SET_PASSWORD, user_id=user_id, password="password123")
    assert common.status_code == 422  # this service's rules for passwords apply
    changed = await call(provider, api.SET_PASSWORD, user_id=user_id, password="a new passphrase")
    assert changed.status_code == 204
    looked_up = await call(provider, api.LOOKUP_LOGIN, token=login.json()["token"])
    assert looked_up.json() == {"user": None}  # a new password ends the logins
    assert (await call(provider, api.SET_ACTIVE, user_id=user_id, active=False)).status_code == 204
    checked = await call(provider, api.AUTHENTICATE, username="alice", password="a new passphrase")
    assert checked.json() == {"user": None}  # inactive
    assert (await call(provider, api.DELETE_USER, user_id=user_id)).status_code == 204
    assert (await provider.get(f"/{api.ACCOUNTS}")).json() == {"accounts": []}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (api.AUTHENTICATE, {"username": "alice"}),
        (api.AUTHENTICATE, {"username": 7, "password": PASSWORD}),
        (api.START_LOGIN, {"user": {"id": "1", "username": "alice"}, "lifetime_seconds": 60}),
        (api.START_LOGIN, {"user": {"id": 1, "username": "alice"}, "lifetime_seconds": 0}),
        (api.START_LOGIN, {"user": {"id": 1, "username": "alice"}, "lifetime_seconds": 1e12}),
        (api.LOOKUP_LOGIN, {"token": ""}),
        (api.CREATE_USER, {"username": "x" * 65, "password": PASSWORD}),
    ],
)
async def test_bodies_that_break_the_contract_are_422(
    provider: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    response = await provider.post(f"/{path}", json=body)
    assert response.status_code == 422
    assert PASSWORD not in response.text  # fields at fault are named, never echoed


async def test_bodies_that_are_not_json(provider: httpx.AsyncClient) -> None:
    path = f"/{api.AUTHENTICATE}"
    form = await provider.post(path, data={"username": "alice", "password": PASSWORD})
    broken = await provider.post(
        path, content=b'{"username": "alice", ', headers={"Content-Type": "application/json"}
    )
    assert (form.status_code, broken.status_code) == (415, 422)


async def test_new_users_follow_this_services_rules(provider: httpx.AsyncClient) -> None:
    short = await call(provider, api.CREATE_USER, username="carol", password="short")
    control = await call(provider, api.CREATE_USER, username="ca\x00rol", password=PASSWORD)
    assert (short.status_code, control.status_code) == (422, 422)
    assert "at least 8 characters" in short.json()["error"]["detail"]


async def test_no_answer_carries_a_password_hash(provider: httpx.AsyncClient) -> None:
    answers = [
        await call(provider, api.CREATE_USER, username="dave", password=PASSWORD),
        await call(provider, api.AUTHENTICATE, username="alice", password=PASSWORD),
        await call(provider, api.AUTHENTICATE, username="alice", password="not the password"),
    ]
    for answer in answers:
        assert "argon2" not in answer.text
        assert PASSWORD not in answer.text
        assert set(answer.json()["user"] or {}) <= {"id", "username"}


async def test_password_checks_are_not_throttled_here(settings: Settings) -> None:
    """The consumer throttles its own login route; counting here would lock out all of its
    users at once, since they all arrive from its address."""
    strict = settings.model_copy(
        update={"users_api_token": SecretStr(TOKEN), "login_rate_limit": "1 per minute"}
    )
    async with served(create_app(strict)) as provider:
        provider.headers.update(BEARER)
        wrong = [
            await call(provider, api.AUTHENTICATE, username="alice", password="wrong password")
            for _ in range(3)
        ]
        right = await call(provider, api.AUTHENTICATE, username="alice", password=PASSWORD)
    assert [answer.json() for answer in wrong] == [{"user": None}] * 3
    assert right.json()["user"]["username"] == "alice"


async def test_a_store_that_cannot_answer_is_a_503(
    provider: httpx.AsyncClient, settings: Settings
) -> None:
    """The consumer turns it into a 503 of its own."""
    user = (await call(provider, api.AUTHENTICATE, username="alice", password=PASSWORD)).json()
    token = (await call(provider, api.START_LOGIN, user=user["user"], lifetime_seconds=60)).json()
    with store_unavailable(settings):
        response = await call(provider, api.LOOKUP_LOGIN, token=token["token"])
    assert response.status_code == 503
    assert (await call(provider, api.LOOKUP_LOGIN, token=token["token"])).status_code == 200


def test_production_refuses_a_short_token() -> None:
    strong = "Zx8-" + "q7Lm2Vr9Tk4Wb6Ns" * 3
    values = {"env": "production", "secret_key": strong, "users_api_token": "short"}
    with pytest.raises(ValidationError, match="USERS_API_TOKEN must be at least 32 characters"):
        Settings.model_validate(values)
