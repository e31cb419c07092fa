"""The ASGI adapter: when responses are sent, streamed bodies, and requests whose client
goes away."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

import pytest
from flask import jsonify, request, stream_with_context
from flask.typing import ResponseReturnValue

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.bridge import ASGIAdapter, portal
from {{ cookiecutter.package_name }}.bridge.environ import build_environ
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import abandoned_request, echo, served


async def test_responses_are_sent_a_pass_after_the_views_finish(settings: Settings) -> None:
    """Requests that are ready together all run their views before any response is sent.

    The adapter sends from the loop's next pass so that, under load, requests that have just
    arrived start in between instead of waiting for a whole batch of answers to go out.
    """
    app = create_app(settings)
    events: list[str] = []

    @app.get("/mark/<name>")
    async def mark(name: str) -> ResponseReturnValue:
        events.append(f"view {name}")
        return jsonify(name=name)

    async def request(name: str) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                events.append(f"send {name}")

        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/mark/{name}",
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
        }
        await ASGIAdapter(app)(scope, receive, send)

    await asyncio.gather(request("a"), request("b"))
    assert events == ["view a", "view b", "send a", "send b"]


async def test_a_view_is_cancelled_when_its_client_disconnects(settings: Settings) -> None:
    """A view still working when its client goes away is cancelled: its own cleanup and
    Flask's teardown run, no response is sent, and the server is told nothing went wrong."""
    app = create_app(settings)
    started, seen = asyncio.Event(), []

    @app.get("/wait")
    async def wait() -> ResponseReturnValue:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("view cancelled")
            raise
        return jsonify()

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        seen.append(f"teardown {type(error).__name__}")

    gone = asyncio.Event()
    request = asyncio.ensure_future(abandoned_request(ASGIAdapter(app), "GET", "/wait", gone))
    await asyncio.wait_for(started.wait(), timeout=10)
    gone.set()
    assert await asyncio.wait_for(request, timeout=10) == []
    assert seen == ["view cancelled", "teardown CancelledError"]


async def test_a_request_the_server_cancels_stays_cancelled(settings: Settings) -> None:
    """Only the client's disconnect is absorbed: a cancellation from outside (the server
    shutting down, a timeout around the app) still ends the request's task as cancelled."""
    app = create_app(settings)
    started = asyncio.Event()

    @app.get("/wait")
    async def wait() -> ResponseReturnValue:
        started.set()
        await asyncio.Event().wait()
        return jsonify()

    gone = asyncio.Event()  # never set: the client stays
    request = asyncio.ensure_future(abandoned_request(ASGIAdapter(app), "GET", "/wait", gone))
    await asyncio.wait_for(started.wait(), timeout=10)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request


async def test_a_request_cut_off_mid_body_is_not_run(settings: Settings) -> None:
    """A client that disconnects before its body is complete gets nothing run for it: the
    view would otherwise see a truncated body as if it were the whole request."""
    app = create_app(settings)
    seen: list[bytes] = []

    @app.post("/echo")
    def echo() -> ResponseReturnValue:
        seen.append(request.get_data())
        return jsonify()

    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"half": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/echo",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-length", b"20")],
    }
    await ASGIAdapter(app)(scope, receive, send)
    assert seen == []
    assert sent == []


async def test_streamed_and_empty_bodies_arrive_whole(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/stream")
    def stream() -> ResponseReturnValue:
        def chunks() -> Iterator[str]:
            for n in range(3):
                # Generator code runs while the response is sent; it may still await.
                yield portal.run(echo(f"part {n};"))

        return app.response_class(stream_with_context(chunks()), mimetype="text/plain")

    @app.get("/empty")
    async def empty() -> ResponseReturnValue:
        return "", 204

    flask_wsgi_app = app.wsgi_app

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # WSGI middleware may answer with a list of chunks instead of an iterator.
        if environ["PATH_INFO"] == "/list":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"first;", b"second;"]
        return flask_wsgi_app(environ, start_response)

    app.wsgi_app = middleware  # type: ignore[method-assign]
    async with served(app) as client:
        streamed = await client.get("/stream")
        listed = await client.get("/list")
        nothing = await client.get("/empty")
        head = await client.head("/healthz")
    assert streamed.status_code == 200
    assert streamed.text == "part 0;part 1;part 2;"
    assert listed.text == "first;second;"
    assert (nothing.status_code, nothing.content) == (204, b"")
    assert (head.status_code, head.content) == (200, b"")


async def test_a_sync_views_request_runs_in_one_thread(settings: Settings) -> None:
    """Hooks, view and teardown of a sync view's request share one thread, as under WSGI."""
    app = create_app(settings)
    threads: list[str] = []

    @app.before_request
    def before() -> None:
        threads.append(threading.current_thread().name)

    @app.get("/sync")
    def sync_view() -> ResponseReturnValue:
        threads.append(threading.current_thread().name)
        return jsonify()

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        threads.append(threading.current_thread().name)

    async with served(app) as client:
        assert (await client.get("/sync")).status_code == 200
    assert len(threads) == 3
    assert len(set(threads)) == 1
    assert threads[0].startswith("sync-view")


async def test_a_streamed_body_is_sent_chunk_by_chunk_from_a_thread(settings: Settings) -> None:
    """Each chunk goes out as soon as the generator yields it, and the generator runs off the
    loop: here it waits (blocking) for its first chunk to have been sent."""
    app = create_app(settings)
    first_sent = threading.Event()
    seen: dict[str, Any] = {}

    @app.get("/stream")
    async def stream() -> ResponseReturnValue:
        def chunks() -> Iterator[bytes]:
            yield b"first;"
            seen["first was sent before the second"] = first_sent.wait(timeout=5)
            seen["thread"] = threading.current_thread().name
            yield b"second;"

        return app.response_class(chunks(), mimetype="text/plain")

    bodies: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            if message["body"] == b"first;":
                first_sent.set()

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
    }
    await ASGIAdapter(app)(scope, receive, send)
    assert b"".join(bodies) == b"first;second;"
    assert seen["first was sent before the second"]
    assert seen["thread"].startswith("sync-view")


@pytest.mark.parametrize(
    ("server", "scheme", "port"),
    [(("10.0.0.1", 8000), "http", "8000"), (("/run/app.sock", None), "http", "80"),
     (None, "https", "443")],
)  # fmt: skip
def test_the_environ_has_a_port_even_when_the_server_has_none(
    server: tuple[str, int | None] | None, scheme: str, port: str
) -> None:
    # ASGI allows a server without a port (a Unix socket); WSGI code reads SERVER_PORT as one.
    scope: dict[str, Any] = {
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [],
        "scheme": scheme,
        "server": server,
    }
    assert build_environ(scope, b"")["SERVER_PORT"] == port
