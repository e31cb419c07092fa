{% if cookiecutter.user_store == "http" -%}
"""Fixtures: a stand-in user service on 127.0.0.1 holding ``alice`` (``user_service.py``), the
app served through its ASGI entrypoint with lifespan, and a real upstream HTTP server on
127.0.0.1. Helpers are in ``support.py``."""
{%- else -%}
"""Fixtures: a migrated user store holding ``alice``, the app served through its ASGI
entrypoint with lifespan, and a real upstream HTTP server on 127.0.0.1. Helpers are in
``support.py``."""
{%- endif %}

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

{% if cookiecutter.user_store != "http" -%}
import argon2
{% endif -%}
import httpx
import pytest

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
{%- if cookiecutter.user_store != "http" %}
from {{ cookiecutter.package_name }}.users import passwords
{%- endif %}
{%- if cookiecutter.user_store == "http" %}
from tests.store import USER_SERVICE_TOKEN, around_each_test, around_the_run
from tests.support import PASSWORD, make_settings, run_cli, served
from tests.user_service import UserService
{%- else %}
from tests.store import around_each_test, around_the_run
from tests.support import PASSWORD, make_settings, run_cli, served
{%- endif %}


@pytest.fixture(scope="session", autouse=True)
def _store_for_the_run() -> Iterator[None]:
    """What the store's test databases need around the whole run (``store.py``)."""
    with around_the_run():
        yield


@pytest.fixture(autouse=True)
def _store_for_each_test() -> Iterator[None]:
    """What the store's test databases need around each test (``store.py``)."""
    with around_each_test():
        yield
{%- if cookiecutter.user_store != "http" %}


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """argon2id at its cheapest (``argon2.profiles.CHEAPEST``, meant for tests): a hash in
    microseconds, not tens of milliseconds. A test of the real cost asks for ``real_hashes``."""
    passwords.use_parameters(argon2.profiles.CHEAPEST)
    yield
    passwords.use_parameters(argon2.profiles.get_default_parameters())


@pytest.fixture
def real_hashes() -> Iterator[None]:
    """argon2-cffi's default parameters, as in production, for one test."""
    passwords.use_parameters(argon2.profiles.get_default_parameters())
    yield
    passwords.use_parameters(argon2.profiles.CHEAPEST)
{%- endif %}

{%- if cookiecutter.user_store == "http" %}


@pytest.fixture
def user_service() -> Iterator[UserService]:
    """A stand-in user service on 127.0.0.1 (``tests/user_service.py``), with no users yet."""
    with UserService.running(USER_SERVICE_TOKEN) as service:
        yield service


@pytest.fixture
def settings(tmp_path: Path, user_service: UserService) -> Settings:
    """Settings over a user service holding the user ``alice``, made with the CLI."""
    settings = make_settings(tmp_path, user_service_url=user_service.url)
    app = create_app(settings)
{%- else %}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over a migrated database holding the user ``alice``."""
    settings = make_settings(tmp_path)
    app = create_app(settings)
    assert run_cli(app, "db", "upgrade")[0] == 0
{%- endif %}
    code, output = run_cli(app, "users", "create", "alice", "--password-stdin", stdin=PASSWORD)
    assert code == 0, output
    return settings


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The default app, served over ASGI with lifespan."""
    async with served(create_app(settings)) as client:
        yield client


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
