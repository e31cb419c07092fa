"""A baked service under a real Hypercorn process on 127.0.0.1: log in, look, log out over real
HTTP, fan out through the shared client, then stop cleanly on SIGTERM; two of them sharing
failed-login counters in the machine's Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live import PASSWORD, LiveService, ensure_redis, free_port, live_service


@pytest.fixture
def live(baked_default: Path, tmp_path: Path) -> Iterator[LiveService]:
    # The example upstream endpoint calls another local server: the service's own probe.
    port = free_port()
    env = {"MY_SERVICE_UPSTREAM_URL": f"http://127.0.0.1:{port}/healthz"}
    with live_service(baked_default, tmp_path, env, port=port) as service:
        yield service


def test_login_me_logout_over_real_http_then_clean_sigterm(live: LiveService) -> None:
    with httpx.Client(base_url=live.url) as client:
        login = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200
        assert login.json()["username"] == "alice"
        assert client.get("/auth/me").json() == {"id": 1, "username": "alice"}
        assert client.post("/auth/logout").status_code == 204
        assert client.get("/auth/me").status_code == 401
        assert client.get("/readyz").status_code == 200

    assert live.stop() == 0, live.output()
    assert "Traceback" not in live.output()


def test_fifty_concurrent_upstream_calls_over_real_http(live: LiveService) -> None:
    async def fan_out() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=live.url, limits=limits, timeout=30) as client:
            replies = await asyncio.gather(*(client.get("/upstream") for _ in range(50)))
        return [reply.status_code for reply in replies]

    assert asyncio.run(fan_out()) == [200] * 50


def test_instances_share_failed_login_counts_through_redis(
    baked_default: Path, tmp_path: Path
) -> None:
    """With ``redis://`` storage, guesses spread over several workers or hosts add up."""
    env = {
        "MY_SERVICE_RATE_LIMIT_STORAGE_URI": ensure_redis(),
        "MY_SERVICE_LOGIN_RATE_LIMIT": "3 per minute",
    }
    # A name no earlier run has used: the counters outlive this test in Redis for a minute.
    guess = {"username": f"probe-{secrets.token_hex(6)}", "password": "not the password"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        live_service(baked_default, tmp_path / "a", env) as first,
        live_service(baked_default, tmp_path / "b", env) as second,
    ):
        on_first = [httpx.post(f"{first.url}/auth/login", json=guess).status_code for _ in "123"]
        on_second = httpx.post(f"{second.url}/auth/login", json=guess)
    assert on_first == [401, 401, 401]
    assert on_second.status_code == 429
    assert int(on_second.headers["retry-after"]) > 0
