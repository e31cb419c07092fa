"""The example upstream endpoint: JSON through, 502 when the upstream is down or broken, 504
when it is too slow, and many calls at once through the one shared client."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import free_port, served


async def call(settings: Settings, url: str) -> httpx.Response:
    app = create_app(settings.model_copy(update={"upstream_url": url}))
    async with served(app) as client:
        return await client.get("/upstream")


async def test_upstream_answer_is_passed_on(settings: Settings, upstream: str) -> None:
    response = await call(settings, upstream + "/hello")
    assert response.status_code == 200
    assert response.json() == {"upstream_status": 200, "upstream": {"path": "/hello"}}


async def test_upstream_down_is_502(settings: Settings) -> None:
    response = await call(settings, f"http://127.0.0.1:{free_port()}/")
    assert response.status_code == 502
    assert response.json()["error"]["detail"] == "The upstream service could not be reached."


@pytest.mark.parametrize("path", ["/fail", "/text"])
async def test_broken_upstream_is_502(settings: Settings, upstream: str, path: str) -> None:
    response = await call(settings, upstream + path)
    assert response.status_code == 502
    assert response.json()["error"]["status"] == 502


async def test_slow_upstream_is_504(settings: Settings, upstream: str) -> None:
    slow = settings.model_copy(update={"upstream_read_timeout": 0.2})
    response = await call(slow, upstream + "/slow")
    assert response.status_code == 504
    assert response.json()["error"]["title"] == "Gateway Timeout"


async def test_fifty_concurrent_calls_share_the_client_without_errors(
    settings: Settings, upstream: str
) -> None:
    app = create_app(settings.model_copy(update={"upstream_url": upstream + "/many"}))
    async with served(app) as client:
        answers = await asyncio.gather(*(client.get("/upstream") for _ in range(50)))
    assert [answer.status_code for answer in answers] == [200] * 50
    assert {answer.json()["upstream"]["path"] for answer in answers} == {"/many"}
