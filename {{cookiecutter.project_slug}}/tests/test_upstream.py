"""The example upstream endpoint: JSON through, 502 when the upstream is down or broken, 504
when it is too slow."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import free_port, served


async def call(settings: Settings, url: str) -> httpx2.Response:
    app = create_app(settings.model_copy(update={"upstream_url": url}))
    async with served(app) as client:
        return await client.get("/upstream")


async def test_upstream_answer_is_passed_on(settings: Settings, upstream: str) -> None:
    response = await call(settings, upstream + "/hello")
    assert response.status_code == 200
    assert response.json() == {"upstream_status": 200, "upstream": {"path": "/hello"}}


async def test_connections_the_upstream_closed_are_not_reused(
    settings: Settings, upstream: str
) -> None:
    # The upstream closes each kept-alive connection after answering; the pool must notice
    # and open a new one instead of failing with 502.
    app = create_app(settings.model_copy(update={"upstream_url": upstream + "/close"}))
    async with served(app) as client:
        statuses = []
        for _ in range(3):
            statuses.append((await client.get("/upstream")).status_code)
            await asyncio.sleep(0.05)  # let the server's close arrive
    assert statuses == [200, 200, 200]


async def test_cookies_an_upstream_sets_are_not_sent_on_later_calls(
    settings: Settings, upstream: str
) -> None:
    """One client serves every user of the worker: a cookie set in the answer to a call made
    for one request must not be sent with the calls made for the next ones."""
    app = create_app(settings.model_copy(update={"upstream_url": upstream + "/set-cookie"}))
    async with served(app) as client:
        answers = [(await client.get("/upstream")).json() for _ in range(2)]
    assert [answer["upstream"] for answer in answers] == [{"path": "/set-cookie"}] * 2


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
