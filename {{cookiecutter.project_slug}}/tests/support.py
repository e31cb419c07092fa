"""Helpers the tests share: settings for a temporary database, the app served over ASGI with
lifespan to an httpx client, a login, a request whose client goes away, a free port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from {{ cookiecutter.package_name }}.bridge import ASGIAdapter, LoopFlask
from {{ cookiecutter.package_name }}.settings import Settings

PASSWORD = "correct horse battery staple"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings that ignore the developer's .env and environment-specific state."""
    values: dict[str, object] = {
        "env": "development",
        "secret_key": "test-secret-key-" + "x1y2z3" * 8,
        "database_url": f"sqlite:///{tmp_path / 'users.sqlite3'}",
        "upstream_url": "http://127.0.0.1:9/",
        "log_format": "console",
    }
    values.update(overrides)
    # model_validate skips the environment and .env: tests see only these values.
    return Settings.model_validate(values)


def run_cli(app: LoopFlask, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args), input=stdin)
    return result.exit_code, result.output


@asynccontextmanager
async def served(app: LoopFlask) -> AsyncIterator[httpx.AsyncClient]:
    """Serve ``app`` through the ASGI entrypoint, lifespan included, to an httpx client."""
    async with (
        LifespanManager(ASGIAdapter(app)) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
        ) as client,
    ):
        yield client


async def login(client: httpx.AsyncClient, *, remember: bool = False) -> httpx.Response:
    return await client.post(
        "/auth/login", json={"username": "alice", "password": PASSWORD, "remember": remember}
    )


async def abandoned_request(
    adapter: Callable[..., Awaitable[None]],
    method: str,
    path: str,
    gone: asyncio.Event,
    body: bytes = b"",
) -> list[str]:
    """Send one request straight to the ASGI ``adapter`` from a client that disconnects once
    ``gone`` is set, as Hypercorn reports it (an ``http.disconnect`` from ``receive``).
    Returns the types of the messages the adapter sent back."""
    sent: list[str] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
    }
    await adapter(scope, receive, send)
    return sent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def echo(text: str) -> str:
    """``text``, after one pass of the loop: a coroutine that really waits."""
    await asyncio.sleep(0)
    return text
