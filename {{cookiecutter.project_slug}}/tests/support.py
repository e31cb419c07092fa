"""Helpers the tests share: settings for a temporary database, the app served over ASGI with
lifespan to an httpx client, a login, a request whose client goes away, a free port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from {{ cookiecutter.package_name }}.app import asgi_app
from {{ cookiecutter.package_name }}.bridge import LoopFlask
from {{ cookiecutter.package_name }}.resources import Resources
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.users import UserStore
{%- if cookiecutter.user_store == "http" %}
from tests.store import USER_SERVICE_TOKEN, store_settings
from tests.user_service import RUNNING, UserService
{%- else %}
from tests.store import query, store_settings
{%- endif %}

PASSWORD = "correct horse battery staple"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings that ignore the developer's .env and environment-specific state."""
    values: dict[str, object] = {
        "env": "development",
        "secret_key": "test-secret-key-" + "x1y2z3" * 8,
        **store_settings(tmp_path),
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
    """Serve ``app`` as ``asgi.py`` does (the request observer around the bridge's adapter),
    lifespan included, to an httpx client."""
    async with (
        LifespanManager(asgi_app(app)) as manager,
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


class StoreCalls:
    """What the app's user stores were asked, as recorded by :func:`watch_stores`."""

    def __init__(self) -> None:
        self.stores: list[UserStore] = []
        #: Per method, the id of the event loop each call ran on.
        self.loops: dict[str, list[int]] = defaultdict(list)


def watch_stores(monkeypatch: pytest.MonkeyPatch, *methods: str) -> StoreCalls:
    """Record every store the app makes, and the loop each call of ``methods`` runs on."""
    calls = StoreCalls()
    make_store = Resources._new_store

    def watched(resources: Resources, *, pooled: bool) -> UserStore:
        store = make_store(resources, pooled=pooled)
        calls.stores.append(store)
        for name in methods:
            monkeypatch.setattr(store, name, _spy(getattr(store, name), calls.loops[name]))
        return store

    monkeypatch.setattr(Resources, "_new_store", watched)
    return calls


def _spy(method: Callable[..., Awaitable[Any]], loops: list[int]) -> Callable[..., Any]:
    async def spy(*args: Any, **kwargs: Any) -> Any:
        loops.append(id(asyncio.get_running_loop()))
        return await method(*args, **kwargs)

    return spy


{% if cookiecutter.user_store == "http" -%}
# What tests do to the user service (``user_service.py``) behind this service's back.


def user_service(settings: Settings) -> UserService:
    """The stand-in user service that ``settings`` point at."""
    return RUNNING[settings.user_service_url]


def store_environment(settings: Settings) -> dict[str, str]:
    """The environment variables that point a service process at this store."""
    return {
        "{{ cookiecutter.__env_prefix }}USER_SERVICE_URL": settings.user_service_url,
        "{{ cookiecutter.__env_prefix }}USER_SERVICE_TOKEN": USER_SERVICE_TOKEN,
    }


def expire_logins(settings: Settings) -> None:
    """Make every login in the store expired."""
    user_service(settings).expire_logins()


def expire_access_tokens(settings: Settings) -> None:
    """Make every access token in the store expired."""
    user_service(settings).expire_access_tokens()


def stored_tokens(settings: Settings) -> str:
    """What the store keeps of access tokens, as text."""
    return str(user_service(settings).store.tokens)


def stored_password_hashes(settings: Settings) -> list[str]:
    """The password hashes the store keeps: none here (the user service hashes them)."""
    del settings
    return []


@contextlib.contextmanager
def store_unavailable(settings: Settings) -> Iterator[None]:
    """The store cannot answer inside this block: the user service's port is closed."""
    with user_service(settings).down():
        yield
{%- else -%}
# What tests do to the store behind the service's back, whatever the store (``store.py``
# has what differs per store).


def store_environment(settings: Settings) -> dict[str, str]:
    """The environment variables that point a service process at this store."""
    return {"{{ cookiecutter.__env_prefix }}DATABASE_URL": settings.database_url}


def expire_logins(settings: Settings) -> None:
    """Make every login in the store expired."""
    query(settings, "UPDATE logins SET expires_at = '2000-01-01 00:00:00.000000'")


def expire_access_tokens(settings: Settings) -> None:
    """Make every access token in the store expired."""
    query(settings, "UPDATE access_tokens SET expires_at = '2000-01-01 00:00:00.000000'")


def stored_tokens(settings: Settings) -> str:
    """What the store keeps of access tokens, as text."""
    return str(query(settings, "SELECT * FROM access_tokens"))


def stored_password_hashes(settings: Settings) -> list[str]:
    """The password hashes the store keeps."""
    return [stored for (stored,) in query(settings, "SELECT password_hash FROM users")]


@contextlib.contextmanager
def store_unavailable(settings: Settings) -> Iterator[None]:
    """The store cannot answer login lookups inside this block (its table is away)."""
    query(settings, "ALTER TABLE logins RENAME TO parked")
    try:
        yield
    finally:
        query(settings, "ALTER TABLE parked RENAME TO logins")
{%- endif %}
