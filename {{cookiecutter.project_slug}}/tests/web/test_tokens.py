"""Access tokens: made by a browser's login for its user, shown once, kept as a hash; they
authenticate programs through ``Authorization: Bearer``, with no cookie and no CSRF check;
expired, revoked or malformed tokens are a 401 that says so; scopes narrow what a token may do."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flask import jsonify
from flask.typing import ResponseReturnValue

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.web.principals import require_scope
from tests.support import expire_access_tokens, login, served, stored_tokens

INVALID = 'Bearer error="invalid_token"'


async def make_token(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    answer = await client.post("/auth/tokens", json={"name": "ci", **body})
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_shown_once_and_kept_as_a_hash(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await login(client)
    made = await make_token(client, scopes=["orders:read"], expires_in=3600)
    assert set(made) == {"id", "token", "name", "scopes", "expires_at"}
    assert made["token"].startswith("tok_")
    assert made["scopes"] == ["orders:read"]
    listed = (await client.get("/auth/tokens")).json()["tokens"]
    assert [token["id"] for token in listed] == [made["id"]]
    assert made["token"] not in str(listed)
    assert made["token"] not in stored_tokens(settings)


async def test_a_program_calls_with_a_token_and_no_cookie(
    client: httpx.AsyncClient, settings: Settings, upstream: str
) -> None:
    await login(client)
    token = (await make_token(client))["token"]
    app = create_app(settings.model_copy(update={"upstream_url": upstream + "/"}))
    async with served(app) as program:
        me = await program.get("/auth/me", headers=bearer(token))
        called = await program.get("/upstream", headers=bearer(token))
        # A state-changing request from a program: no CSRF header, no cookie, accepted.
        listed = await program.get("/auth/tokens", headers=bearer(token))
    assert me.status_code == 200
    assert me.json() == {"id": 1, "username": "alice"}
    assert called.status_code == 200
    assert listed.status_code == 200
    for answer in (me, called, listed):
        assert "set-cookie" not in answer.headers


async def test_a_token_ignores_cookies_and_skips_the_csrf_check(
    client: httpx.AsyncClient,
) -> None:
    await login(client)
    token = await make_token(client)
    cross_site = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    revoked = await client.delete(
        f"/auth/tokens/{token['id']}", headers={**bearer(token["token"]), **cross_site}
    )
    assert revoked.status_code == 204
    assert "set-cookie" not in revoked.headers


async def test_a_browser_session_cannot_mint_a_token_cross_site(client: httpx.AsyncClient) -> None:
    await login(client)
    refused = await client.post(
        "/auth/tokens",
        json={"name": "stolen"},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    assert (await client.get("/auth/tokens")).json()["tokens"] == []


async def test_a_token_cannot_mint_tokens(client: httpx.AsyncClient) -> None:
    await login(client)
    token = (await make_token(client))["token"]
    client.cookies.clear()
    refused = await client.post("/auth/tokens", json={"name": "more"}, headers=bearer(token))
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "header",
    ["Bearer tok_not-a-real-token", "Bearer ", "Bearer a b", "bearer \x7f", "Bearer " + "x" * 300],
)
async def test_malformed_and_unknown_tokens_are_a_401_that_says_so(
    client: httpx.AsyncClient, header: str
) -> None:
    for path in ("/auth/me", "/healthz"):
        answer = await client.get(path, headers={"Authorization": header})
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == INVALID
        assert answer.json()["error"]["status"] == 401


async def test_revoked_and_expired_tokens_are_a_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await login(client)
    revoked = await make_token(client)
    expired = await make_token(client, expires_in=60)
    assert (await client.delete(f"/auth/tokens/{revoked['id']}")).status_code == 204
    assert (await client.delete(f"/auth/tokens/{revoked['id']}")).status_code == 404
    expire_access_tokens(settings)
    client.cookies.clear()
    for token in (revoked, expired):
        answer = await client.get("/auth/me", headers=bearer(token["token"]))
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == INVALID


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x", "scopes": ["Not A Scope"]},
        {"name": "x", "expires_in": 1},
        {"name": "x", "unknown": 1},
        {"scopes": []},
    ],
)
async def test_bad_token_requests_are_a_422(client: httpx.AsyncClient, body: Any) -> None:
    await login(client)
    assert (await client.post("/auth/tokens", json=body)).status_code == 422


async def test_scopes_narrow_what_a_token_may_do(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/orders")
    @require_scope("orders:read")
    async def orders() -> ResponseReturnValue:
        return jsonify(orders=[])

    async with served(app) as client:
        await login(client)
        assert (await client.get("/orders")).status_code == 200  # a browser has every scope
        reader = (await make_token(client, scopes=["orders:read"]))["token"]
        other = (await make_token(client, scopes=["users:read"]))["token"]
        client.cookies.clear()
        allowed = await client.get("/orders", headers=bearer(reader))
        refused = await client.get("/orders", headers=bearer(other))
        anonymous = await client.get("/orders")
    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert anonymous.status_code == 401
