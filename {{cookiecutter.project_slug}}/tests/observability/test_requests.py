"""Request ids and the access log, through the ASGI entrypoint: every answer carries an id, every
event a request logs carries it too (async and sync views, audit events, coroutines a sync
view waits for), and each request is one access event with its route, status and size."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import structlog
from flask import Response, jsonify, stream_with_context
from flask.typing import ResponseReturnValue

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.app import asgi_app
from {{ cookiecutter.package_name }}.bridge import LoopFlask, run
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import PASSWORD, abandoned_request, login, served

log = structlog.get_logger("tests.views")
GENERATED = re.compile(r"[0-9a-f]{32}")
JSON = {"Content-Type": "application/json"}
ACCESS = "{{ cookiecutter.package_name }}.access"


def events(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def access_events(output: str) -> list[dict[str, Any]]:
    return [e for e in events(output) if e["logger"] == ACCESS]


def json_app(settings: Settings, **overrides: object) -> LoopFlask:
    """The app with JSON logs, plus views that log: async, sync, and sync awaiting a coroutine."""
    app = create_app(settings.model_copy(update={"log_format": "json", **overrides}))

    async def note(where: str) -> str:
        await asyncio.sleep(0)
        log.info("coroutine ran", where=where)
        return where

    @app.get("/test/async")
    async def async_view() -> ResponseReturnValue:
        log.warning("async view warns")
        return jsonify(where=await note("async view"))

    @app.get("/test/sync")
    def sync_view() -> ResponseReturnValue:
        log.warning("sync view warns")
        return jsonify(where=run(note("sync view")))

    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            log.info("chunk")
            yield b"x" * 1000

    @app.get("/test/stream/sync")
    def sync_stream() -> ResponseReturnValue:
        return Response(stream_with_context(chunks()), mimetype="text/plain")

    @app.get("/test/stream/async")
    async def async_stream() -> ResponseReturnValue:
        return Response(chunks(), mimetype="text/plain")

    @app.get("/test/slow")
    async def slow() -> ResponseReturnValue:
        await asyncio.sleep(30)
        return jsonify()

    return app


@pytest.mark.parametrize("path", ["/test/async", "/test/sync"])
async def test_every_event_of_a_request_carries_its_id(
    settings: Settings, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    async with served(json_app(settings)) as client:
        first = await client.get(path)
        second = await client.get(path, headers={"X-Request-ID": "caller-chosen.id:42"})
    assert first.status_code == second.status_code == 200
    ids = [first.headers["x-request-id"], "caller-chosen.id:42"]
    assert GENERATED.fullmatch(ids[0])
    assert second.headers["x-request-id"] == ids[1]
    logged = [e for e in events(capsys.readouterr().err) if e.get("request_id") in ids]
    for request_id in ids:
        of_request = [e["event"] for e in logged if e["request_id"] == request_id]
        assert of_request == ["async view warns" if "async" in path else "sync view warns",
                              "coroutine ran", "request"]  # fmt: skip


async def test_audit_events_carry_the_request_id(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with served(json_app(settings)) as client:
        wrong = await client.post("/auth/login", json={"username": "alice", "password": "nope"})
        right = await login(client)
        out = await client.post("/auth/logout")
    logged = events(capsys.readouterr().err)
    for response, action in ((wrong, "login"), (right, "login"), (out, "logout")):
        request_id = response.headers["x-request-id"]
        of_request = [e for e in logged if e.get("request_id") == request_id]
        assert [e["event"] for e in of_request] == ["audit", "request"]
        assert of_request[0]["action"] == action


async def test_one_access_event_per_request_with_route_status_size_and_user(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with served(json_app(settings)) as client:
        anonymous = await client.get("/auth/me")
        await login(client)
        me = await client.get("/auth/me")
        made = await client.post("/auth/tokens", json={"name": "ci"})
        token_id, token = made.json()["id"], made.json()["token"]
        client.cookies.clear()
        by_token = await client.delete(
            f"/auth/tokens/{token_id}", headers={"Authorization": f"Bearer {token}"}
        )
        missing = await client.get("/no/such/path?secret=1")
    access = access_events(capsys.readouterr().err)
    assert len(access) == 6
    assert [(e["method"], e["route"], e["status"]) for e in access] == [
        ("GET", "/auth/me", 401),
        ("POST", "/auth/login", 200),
        ("GET", "/auth/me", 200),
        ("POST", "/auth/tokens", 201),
        ("DELETE", "/auth/tokens/<int:token_id>", 204),
        ("GET", "unmatched", 404),
    ]
    responses = [anonymous, None, me, made, by_token, missing]
    for event, response in zip(access, responses, strict=True):
        assert event["client"] == "127.0.0.1"
        assert event["duration_ms"] >= 0
        assert event["level"] == "info"
        if response is not None:
            assert event["request_id"] == response.headers["x-request-id"]
            assert event["bytes"] == len(response.content)
    assert [e.get("user_id") for e in access] == [None, 1, 1, 1, 1, None]
    assert "secret" not in json.dumps(access)  # the route, never the raw path


async def test_the_access_event_is_a_line_like_every_other_event_with_what_the_view_bound(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = json_app(settings)

    @app.get("/test/bound")
    async def bound() -> ResponseReturnValue:
        structlog.contextvars.bind_contextvars(tenant="acme")
        log.info("bound a tenant")
        return jsonify()

    async with served(app) as client:
        response = await client.get("/test/bound")
    logged = [e for e in events(capsys.readouterr().err) if e.get("tenant") == "acme"]
    assert [e["event"] for e in logged] == ["bound a tenant", "request"]
    view_event, access = logged
    assert access["request_id"] == response.headers["x-request-id"] == view_event["request_id"]
    assert access.keys() >= view_event.keys()
    assert access["timestamp"].endswith("Z")
    assert datetime.fromisoformat(access["timestamp"]) >= datetime.fromisoformat(
        view_event["timestamp"]
    )


async def test_the_access_event_is_readable_on_a_laptop(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings.model_copy(update={"log_format": "console"}))
    async with served(app) as client:
        response = await client.get("/healthz")
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ACCESS in ln]
    assert not line.startswith("{")
    for shown in ("request", "route=/healthz", "status=200", response.headers["x-request-id"]):
        assert shown in line


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_streamed_body_is_counted_and_logged_with_its_id(
    settings: Settings, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    async with served(json_app(settings)) as client:
        response = await client.get(f"/test/stream/{kind}")
    assert response.content == b"x" * 3000
    request_id = response.headers["x-request-id"]
    of_request = [e for e in events(capsys.readouterr().err) if e.get("request_id") == request_id]
    assert [e["event"] for e in of_request] == ["chunk", "chunk", "chunk", "request"]
    assert of_request[-1]["bytes"] == 3000


@pytest.mark.parametrize(
    "given",
    [
        b"x" * 129,  # too long
        b"has space",
        b"back\\slash",
        b"<script>",
        "ünïcode".encode(),
        b"",
    ],
)
async def test_an_unacceptable_request_id_is_replaced(
    client: httpx.AsyncClient, given: bytes
) -> None:
    response = await client.get("/healthz", headers={b"X-Request-ID": given})
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_an_acceptable_request_id_is_kept_up_to_128_characters(
    client: httpx.AsyncClient,
) -> None:
    given = "A-z_0.9:" * 16
    response = await client.get("/healthz", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


async def test_generated_ids_differ(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20


async def test_error_answers_carry_the_request_id_too(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    answers = [
        await client.get("/nope"),
        await client.delete("/auth/me"),
        await client.post("/auth/login", content=b"{not json", headers=JSON),
        await client.post(
            "/auth/login", content=b"x" * (settings.max_content_length + 1), headers=JSON
        ),
        await client.get("/auth/me", headers={"Authorization": "Bearer tok_wrong"}),
        await client.get("/upstream"),  # nothing listens at the upstream URL: 502
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [404, 405, 400, 413, 401, 502]
    for answer in answers:
        assert GENERATED.fullmatch(answer.headers["x-request-id"]), answer.status_code
    assert len({a.headers["x-request-id"] for a in answers}) == len(answers)


async def test_a_503_carries_the_request_id(settings: Settings) -> None:
    app = create_app(settings)
    async with served(app) as client:
        app.begin_draining()
        response = await client.get("/readyz", headers={"X-Request-ID": "drain-1"})
    assert response.status_code == 503
    assert response.headers["x-request-id"] == "drain-1"


async def test_a_request_whose_client_left_is_logged_as_499(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = json_app(settings)
    gone = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, gone.set)
    sent = await abandoned_request(asgi_app(app), "GET", "/test/slow", gone)
    assert sent == []
    (event,) = access_events(capsys.readouterr().err)
    assert (event["route"], event["status"], event["bytes"]) == ("/test/slow", 499, 0)


async def test_the_access_log_can_be_turned_off(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with served(json_app(settings, access_log=False)) as client:
        response = await client.get("/test/async")
    assert GENERATED.fullmatch(response.headers["x-request-id"])
    output = capsys.readouterr().err
    assert access_events(output) == []
    assert any(e["event"] == "async view warns" for e in events(output))


async def test_a_login_is_logged_without_its_password(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with served(json_app(settings)) as client:
        await login(client)
    assert PASSWORD not in capsys.readouterr().err
