"""Shared fixtures: a migrated SQLite file, the app served through its ASGI entrypoint with
lifespan, and a real upstream HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from asgi_lifespan import LifespanManager

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.asgi_adapter import ASGIAdapter
from {{ cookiecutter.package_name }}.runtime import LoopFlask
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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over a migrated database holding the user ``alice``."""
    settings = make_settings(tmp_path)
    app = create_app(settings)
    assert run_cli(app, "db", "upgrade")[0] == 0
    code, output = run_cli(app, "users", "create", "alice", "--password-stdin", stdin=PASSWORD)
    assert code == 0, output
    return settings


@asynccontextmanager
async def served(app: LoopFlask) -> AsyncIterator[httpx2.AsyncClient]:
    """Serve ``app`` through the ASGI entrypoint, lifespan included, to an httpx2 client."""
    async with (
        LifespanManager(ASGIAdapter(app)) as manager,
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=manager.app), base_url="http://testserver"
        ) as client,
    ):
        yield client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    """The default app, served over ASGI with lifespan."""
    async with served(create_app(settings)) as client:
        yield client


async def login(client: httpx2.AsyncClient, *, remember: bool = False) -> httpx2.Response:
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


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    """A real HTTP/1.1 server on 127.0.0.1 (keep-alive): ``/`` answers JSON, ``/slow`` after
    one second, ``/fail`` with 500, ``/text`` with non-JSON, ``/close`` answers JSON and
    then closes the connection it kept alive, and ``/set-cookie`` answers JSON with a
    ``Set-Cookie`` header. JSON answers name the path and any ``Cookie`` header received.
    Yields its base URL."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ", 2)[1]
                fields = (line.split(":", 1) for line in lines[1:] if ":" in line)
                cookie = {name.lower(): value.strip() for name, value in fields}.get("cookie")
                if path == "/slow":
                    await asyncio.sleep(1)
                answer = {"path": path} if cookie is None else {"path": path, "cookie": cookie}
                status, body = {
                    "/fail": (500, b'{"broken": true}'),
                    "/text": (200, b"<html>not json</html>"),
                }.get(path, (200, json.dumps(answer).encode()))
                set_cookie = path == "/set-cookie"
                extra = "set-cookie: upstream_session=alice; Path=/\r\n" if set_cookie else ""
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}"
                    f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                if path == "/close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"
