"""The shared HTTP client, on each transport: JSON through; 502 when the upstream is down or
broken, 504 when it is too slow; no cookies kept; no dead connection reused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.clients.http import Transport, UpstreamError, get_json, new_client
from tests.support import free_port


@pytest.fixture(params=["aiohttp", "httpx"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    transport: Transport = request.param
    client = new_client(
        connect_timeout=1, read_timeout=0.5, max_connections=10, transport=transport
    )
    async with client:
        yield client


async def test_a_json_answer_is_passed_on(client: Any, upstream: str) -> None:
    assert await get_json(client, upstream + "/hello") == (200, {"path": "/hello"})


async def test_an_upstream_that_is_down_is_502(client: Any) -> None:
    with pytest.raises(UpstreamError) as failed:
        await get_json(client, f"http://127.0.0.1:{free_port()}/")
    assert failed.value.status == 502
    assert failed.value.detail == "The upstream service could not be reached."


@pytest.mark.parametrize("path", ["/fail", "/text"])
async def test_a_broken_upstream_is_502(client: Any, upstream: str, path: str) -> None:
    with pytest.raises(UpstreamError) as failed:
        await get_json(client, upstream + path)
    assert failed.value.status == 502


async def test_an_answer_that_is_not_http_is_502(client: Any) -> None:
    """Garbage on the wire is an upstream failure on either transport, never a 500."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"this is not HTTP at all\r\n\r\n")
        await writer.drain()
        writer.close()

    async with await asyncio.start_server(garbage, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(UpstreamError) as failed:
            await get_json(client, f"http://127.0.0.1:{port}/")
    assert failed.value.status == 502


async def test_a_slow_upstream_is_504(client: Any, upstream: str) -> None:
    with pytest.raises(UpstreamError) as failed:
        await get_json(client, upstream + "/slow")
    assert failed.value.status == 504


async def test_cookies_an_upstream_sets_are_not_sent_on_later_calls(
    client: Any, upstream: str
) -> None:
    """One client serves every user of the worker: a cookie set in the answer to a call made
    for one request must not be sent with the calls made for the next ones."""
    answers = [await get_json(client, upstream + "/set-cookie") for _ in range(2)]
    assert [payload for _, payload in answers] == [{"path": "/set-cookie"}] * 2


async def test_connections_the_upstream_closed_are_not_reused(client: Any, upstream: str) -> None:
    # The upstream closes each kept-alive connection after answering; the pool must notice
    # and open a new one instead of failing with 502.
    statuses = []
    for _ in range(3):
        statuses.append((await get_json(client, upstream + "/close"))[0])
        await asyncio.sleep(0.05)  # let the server's close arrive
    assert statuses == [200, 200, 200]
