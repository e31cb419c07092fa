"""OWASP defaults: cookie flags, revocation on logout, no session fixation, CSRF, redirects,
password storage and login throttling. Each test names the attack it stops."""

from __future__ import annotations

import httpx
import pytest
from flask import jsonify, session
from flask.typing import ResponseReturnValue

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.web.security import safe_redirect_target
from tests.support import PASSWORD, free_port, login, served


async def test_cookies_are_httponly_and_samesite(client: httpx.AsyncClient) -> None:
    response = await login(client, remember=True)
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie


async def test_production_cookies_are_secure_and_host_prefixed(settings: Settings) -> None:
    production = settings.model_copy(update={"env": "production"})
    async with served(create_app(production)) as client:
        response = await login(client, remember=True)
    cookies = response.headers.get_list("set-cookie")
    assert {c.split("=", 1)[0] for c in cookies} == {"__Host-session", "__Host-remember"}
    assert all("Secure" in c for c in cookies)
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_captured_cookies_stop_working_after_logout(client: httpx.AsyncClient) -> None:
    await login(client, remember=True)
    captured = dict(client.cookies)
    assert (await client.post("/auth/logout")).status_code == 204
    for name in ("session", "remember"):
        client.cookies.clear()
        client.cookies.set(name, captured[name])
        replay = await client.get("/auth/me")
        assert replay.status_code == 401, name


async def test_session_keys_planted_before_login_do_not_survive_it(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/plant")
    def plant() -> ResponseReturnValue:
        session["planted"] = "by attacker"
        return jsonify(ok=True)

    @app.get("/planted")
    def planted() -> ResponseReturnValue:
        return jsonify(planted=session.get("planted"))

    async with served(app) as client:
        await client.get("/plant")
        assert (await client.get("/planted")).json() == {"planted": "by attacker"}
        await login(client)
        assert (await client.get("/planted")).json() == {"planted": None}


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
    ],
)
async def test_cross_site_posts_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/auth/login", data={"username": "alice", "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403
    assert "session" not in response.cookies


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://testserver"},
        {"Referer": "http://testserver/auth/login"},
        {},
    ],
)
async def test_same_origin_and_non_browser_posts_pass(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/auth/login", json={"username": "alice", "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 200


async def test_trusted_origin_may_post(settings: Settings) -> None:
    trusting = settings.model_copy(update={"trusted_origins": ["https://app.example"]})
    async with served(create_app(trusting)) as client:
        response = await client.post(
            "/auth/login",
            json={"username": "alice", "password": PASSWORD},
            headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"},
        )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/auth/me", "/auth/me"),
        ("/a?b=c", "/a?b=c"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/\r\nLocation: https://evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_only_local_redirect_targets_pass(target: str | None, expected: str) -> None:
    assert safe_redirect_target(target) == expected


@pytest.mark.parametrize(
    ("next_value", "location"),
    [
        ("/healthz", "/healthz"),
        ("https://evil.example/", "/auth/me"),
        ("//evil.example", "/auth/me"),
    ],
)
async def test_browser_login_redirects_only_to_local_next(
    client: httpx.AsyncClient, next_value: str, location: str
) -> None:
    response = await client.post(
        "/auth/login",
        data={"username": "alice", "password": PASSWORD, "next": next_value},
        headers={"Accept": "text/html", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == location


async def test_repeated_failed_logins_are_throttled(settings: Settings) -> None:
    strict = settings.model_copy(update={"login_rate_limit": "3 per minute"})
    async with served(create_app(strict)) as client:
        # Spacing variants of one username count against that one account.
        names = ["alice", " alice", "alice ", "alice"]
        wrong = [{"username": name, "password": "not the password"} for name in names]
        codes = [(await client.post("/auth/login", json=body)).status_code for body in wrong]
        blocked = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        other_user = await client.post("/auth/login", json={"username": "bob", "password": "x"})
    assert codes == [401, 401, 401, 429]
    assert blocked.status_code == 429
    assert blocked.json()["error"]["status"] == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert other_user.status_code == 401  # throttled per username, not for everyone


async def test_logins_are_refused_while_the_throttle_storage_is_down(settings: Settings) -> None:
    """Fail closed: with Redis away, no one gets unthrottled guesses, and nobody is logged in."""
    down = f"redis://127.0.0.1:{free_port()}"  # a port nothing listens on: Redis is "down"
    redis_down = settings.model_copy(update={"rate_limit_storage_uri": down})
    async with served(create_app(redis_down)) as client:
        refused = await login(client)
        me = await client.get("/auth/me")
    assert refused.status_code == 503
    assert refused.json()["error"]["status"] == 503
    assert refused.headers["retry-after"] == "5"
    assert "session" not in refused.cookies
    assert me.status_code == 401


async def test_successful_logins_are_not_throttled(settings: Settings) -> None:
    strict = settings.model_copy(update={"login_rate_limit": "2 per minute"})
    async with served(create_app(strict)) as client:
        codes = [(await login(client)).status_code for _ in range(4)]
    assert codes == [200] * 4


async def test_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/login")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


async def test_headers_a_view_sets_itself_are_kept(settings: Settings) -> None:
    """The defaults fill in what a response lacks; a view's own choice wins, whatever its case."""
    app = create_app(settings)

    @app.get("/auth/framed")
    def framed() -> ResponseReturnValue:
        return "ok", {"x-frame-options": "SAMEORIGIN", "Cache-Control": "max-age=60"}

    async with served(app) as client:
        response = await client.get("/auth/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers.get_list("cache-control") == ["max-age=60"]
    assert response.headers["x-content-type-options"] == "nosniff"
