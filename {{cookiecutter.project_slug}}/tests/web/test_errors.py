"""Malformed requests get a 4xx JSON answer; nothing ever answers with a traceback."""

from __future__ import annotations

import httpx
import pytest
from flask.typing import ResponseReturnValue

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import served


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"alice"', "application/json", 400),
        (b'{"username": "alice"}', "application/json", 422),
        (b'{"username": 5, "password": "x"}', "application/json", 422),
        (b'{"username": "", "password": "x"}', "application/json", 422),
        (b"username=alice", "text/plain", 415),
        (b"\xff\xfe", "application/json", 400),
    ],
)
async def test_malformed_login_requests(
    client: httpx.AsyncClient, content: bytes, content_type: str, status: int
) -> None:
    response = await client.post(
        "/auth/login", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["status"] == status


async def test_validation_errors_do_not_echo_the_password(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/login", json={"username": 7, "password": "hunter2-secret"})
    assert response.status_code == 422
    assert "hunter2-secret" not in response.text
    assert response.json()["error"]["fields"][0]["loc"] == ["username"]


async def test_oversized_body_is_413_before_it_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login",
        content=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["status"] == 413
    # The app answers it, through its hooks: the headers every other answer carries are here.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nope", 404), ("DELETE", "/auth/me", 405)]
)
async def test_routing_errors_are_json(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    assert response.json()["error"]["status"] == status


async def test_unexpected_exceptions_are_a_json_500_without_traceback(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> ResponseReturnValue:
        raise RuntimeError("secret internals")

    async with served(app) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["status"] == 500
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


async def test_a_deeply_nested_json_body_is_a_400(client: httpx.AsyncClient) -> None:
    # Deeper than Python's recursion limit: the decoder raises RecursionError, not ValueError.
    body = b"[" * 50_000 + b"]" * 50_000
    response = await client.post(
        "/auth/login", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == 400
    assert response.headers["x-content-type-options"] == "nosniff"
