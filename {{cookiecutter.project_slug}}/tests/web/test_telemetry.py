"""``GET /metrics``: absent unless ``METRICS_TOKEN`` is set, then only for that bearer token;
never a cookie, never cached. What it counts: tests/observability/test_metrics.py."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import login, served

TOKEN = "metrics-token-" + "k3Jq9Zt7Wm2Xv5Rb" * 2


def with_metrics(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})


async def test_metrics_are_404_while_the_token_is_unset(settings: Settings) -> None:
    async with served(create_app(settings)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN],
)
async def test_metrics_need_the_bearer_token(settings: Settings, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with served(create_app(with_metrics(settings))) as client:
        response = await client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert TOKEN not in response.text


async def test_metrics_answer_the_token_without_a_cookie_or_caching(settings: Settings) -> None:
    async with served(create_app(with_metrics(settings))) as client:
        await login(client, remember=True)  # a browser's cookies come along: still no cookie
        response = await client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    assert "# TYPE http_requests_total counter" in response.text


def test_production_refuses_a_short_metrics_token(settings: Settings) -> None:
    values = settings.model_dump() | {
        "env": "production",
        "secret_key": "Zx8-" + "q7Lm2Vr9Tk4Wb6Ns" * 3,
        "metrics_token": "short",
    }
    with pytest.raises(ValidationError, match="METRICS_TOKEN must be at least 32 characters"):
        Settings.model_validate(values)
