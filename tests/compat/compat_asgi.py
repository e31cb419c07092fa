"""Serve Flask's test-client requests through an ASGI app on a running event loop.

:func:`install` replaces ``FlaskClient.run_wsgi_app``, the one place where Werkzeug's test
client calls the WSGI app, so that everything else (cookies, redirects, ``buffered``,
``environ_base``, the response class) stays Werkzeug's own. Each request becomes an ASGI
``http`` scope, the way a server builds it from the wire, and runs as a task on one long-lived
loop in a background thread, in an empty ``contextvars`` context as a server's connection task
would. The response body is handed over chunk by chunk: a streamed body runs at most
:data:`WINDOW` chunks ahead of the test's reading, and closing the response early disconnects
the client.

What an ASGI server cannot carry does not arrive: environ keys that are not headers, the
client address or the server name (``werkzeug.debug.preserve_context``, custom keys), and the
status line's reason phrase.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

from flask.testing import FlaskClient
from werkzeug.datastructures import Headers
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_current_url

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]
#: Body chunks a streamed response may have sent ahead of what the test has read.
WINDOW = 16
#: Seconds a test waits for the app's next message before it fails instead of hanging.
TIMEOUT = 60.0

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
#: Requests served through the ASGI app in this process; the plugin reports it.
served = 0


def install(wrap: Callable[[Any], ASGIApp]) -> None:
    """Serve every ``FlaskClient`` request through ``wrap(app)`` (an ASGI app)."""

    def run_wsgi_app(
        self: FlaskClient, environ: dict[str, Any], buffered: bool = False
    ) -> tuple[Iterator[bytes], str, Headers]:
        # As werkzeug.test.Client.run_wsgi_app, with the WSGI call replaced.
        self._add_cookies_to_wsgi(environ)
        response = serve(wrap(self.application), environ, buffered)
        url = urlsplit(get_current_url(environ))
        self._update_cookies_from_response(
            url.hostname or "localhost", url.path, response[2].getlist("Set-Cookie")
        )
        return response

    FlaskClient.run_wsgi_app = run_wsgi_app  # type: ignore[method-assign,assignment]


def scope_from_environ(environ: dict[str, Any]) -> dict[str, Any]:
    """The ASGI scope a server would build for the request this WSGI environ describes."""
    headers: list[tuple[bytes, bytes]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key
        else:
            continue
        headers.append((name.replace("_", "-").lower().encode("latin-1"), value.encode("latin-1")))
    path = environ.get("PATH_INFO", "").encode("latin-1")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").partition("/")[2] or "1.1",
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": path.decode("utf-8", "replace"),
        "raw_path": quote(path, safe="/:@!$&'()*+,;=-._~").encode("ascii"),
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "root_path": environ.get("SCRIPT_NAME", "").encode("latin-1").decode("utf-8", "replace"),
        "headers": headers,
        "server": (environ.get("SERVER_NAME", "localhost"), int(environ.get("SERVER_PORT") or 80)),
    }
    if environ.get("REMOTE_ADDR"):
        scope["client"] = (environ["REMOTE_ADDR"], int(environ.get("REMOTE_PORT") or 0))
    return scope


def serve(
    app: ASGIApp, environ: dict[str, Any], buffered: bool
) -> tuple[Iterator[bytes], str, Headers]:
    """Run one request through ``app``; returns what ``werkzeug.test.run_wsgi_app`` returns."""
    global served
    served += 1
    stream = environ.get("wsgi.input")
    body: bytes = stream.read() if stream is not None else b""
    # A client keeps what it sent: Werkzeug follows a 307/308 redirect with this same stream.
    environ["wsgi.input"] = io.BytesIO(body)
    exchange = _Exchange(background_loop(), body)
    exchange.start(app, scope_from_environ(environ))
    status, raw_headers = exchange.response_start()
    headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers])
    status_line = f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"
    chunks: Iterator[bytes] = exchange
    if buffered:
        try:
            chunks = iter(list(exchange))
        finally:
            exchange.close()
    return chunks, status_line, headers


def background_loop() -> asyncio.AbstractEventLoop:
    """The one loop the ASGI app runs on in this process, started on first use."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="compat-asgi", daemon=True).start()
        return _loop


class _Exchange:
    """One request between the test's thread and the app's task on the loop.

    Iterating it yields the body; ``close()`` disconnects the client and waits for the task.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, body: bytes) -> None:
        self._loop = loop
        self._body: bytes | None = body
        self._messages: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._done = threading.Event()
        self._finished = False
        # Loop-side state, created on the loop.
        self._gone: asyncio.Event
        self._read: asyncio.Event
        self._unread = 0
        self._closed = False

    def start(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        def create() -> None:
            self._gone = asyncio.Event()
            self._read = asyncio.Event()
            self._loop.create_task(self._run(app, scope), context=contextvars.Context())

        self._loop.call_soon_threadsafe(create)

    async def _run(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self._receive, self._send)
        except BaseException as error:  # handed to the test, as a WSGI app's error would be
            self._messages.put(("error", error))
        else:
            self._messages.put(("end", None))
        finally:
            self._gone.set()
            self._done.set()

    async def _receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self._gone.wait()  # a server answers only when the client goes away
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._closed:  # the client has gone: a server drops what is still sent
            await asyncio.sleep(0)  # but a send still lets the loop run (and cancel the task)
            return
        if message["type"] == "http.response.start":
            self._messages.put(("start", (message["status"], message.get("headers", []))))
        elif message["type"] == "http.response.body":
            self._messages.put(("body", bytes(message.get("body", b""))))
            self._unread += 1
            # A server buffers a little of a streamed body, then waits for the client to read.
            while message.get("more_body", False) and self._unread > WINDOW and not self._closed:
                self._read.clear()
                await self._read.wait()

    def _read_one(self) -> None:
        self._unread -= 1
        self._read.set()

    def _next(self) -> tuple[str, Any]:
        try:
            return self._messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise TimeoutError(f"the ASGI app sent nothing for {TIMEOUT} s") from None

    def response_start(self) -> tuple[int, list[tuple[bytes, bytes]]]:
        kind, value = self._next()
        if kind == "error":
            raise value
        if kind != "start":
            raise RuntimeError("the ASGI app finished without sending a response")
        status, headers = value
        return int(status), [(bytes(k), bytes(v)) for k, v in headers]

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while not self._finished:
            kind, value = self._next()
            if kind == "body":
                self._loop.call_soon_threadsafe(self._read_one)
                return value  # type: ignore[no-any-return]
            self._finished = True
            if kind == "error":
                raise value
        raise StopIteration

    def close(self) -> None:
        def disconnect() -> None:
            self._closed = True
            self._gone.set()
            self._read.set()

        self._loop.call_soon_threadsafe(disconnect)
        # As a WSGI body's close(): the app's clean-up has run when this returns.
        if not self._done.wait(TIMEOUT):
            raise TimeoutError(f"the ASGI app did not finish within {TIMEOUT} s of a disconnect")
