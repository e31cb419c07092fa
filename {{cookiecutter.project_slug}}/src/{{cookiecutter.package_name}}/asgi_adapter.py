"""Serve a :class:`~.runtime.LoopFlask` app over ASGI, on the server's own event loop.

Hypercorn can serve a WSGI app itself, but it then runs each request in a thread of its default
executor (6 threads on a 2-core machine) and offers no lifespan events. This adapter instead
runs Flask's request handling inside the request's own asyncio task, through
:func:`~.runtime.call_with_portal`, so async views and the async user store are awaited on
Hypercorn's loop. Sync views still go to a thread pool (see ``runtime.LoopFlask``).

It also turns ASGI lifespan events into the app's startup and shutdown hooks, which open and
close the shared resources (``resources.py``).
"""

from __future__ import annotations

import asyncio
import functools
import io
import itertools
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

import structlog

from . import runtime
from .errors import json_error_body

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = structlog.get_logger(__name__)


class BodyTooLarge(Exception):
    """The client sent more than ``MAX_CONTENT_LENGTH`` bytes."""


class ClientDisconnected(Exception):
    """The client went away before it had sent the whole request."""


class ASGIAdapter:
    """An ASGI application wrapping one Flask app."""

    def __init__(self, app: runtime.LoopFlask) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:  # websocket: Flask has no WebSocket support
            await send({"type": "websocket.close", "code": 1003})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit: int | None = self.app.config["MAX_CONTENT_LENGTH"]
        try:
            body = await _read_body(scope, receive, limit)
        except BodyTooLarge:
            await _send_simple(send, 413, f"The request body exceeds {limit} bytes.")
            return
        except ClientDisconnected:
            return  # a truncated request is not run: its body is not what the client meant
        environ = build_environ(scope, body)
        guard = _DisconnectGuard(receive)
        try:
            status, headers, chunks, rest = await runtime.call_with_portal(self._respond, environ)
            # Send from the loop's next pass. Under load one pass runs many resumed requests'
            # Flask work back to back, while a request that has just arrived needs several
            # passes to reach the app (Hypercorn hands it from the socket to a read task, then
            # to an app task). Yielding between the work and the send lets new requests in
            # between, so upstream calls do not bunch up and leave the loop idle between
            # bunches: +20 % on /upstream at 100 connections, measured with bench/
            # (docs/performance.md).
            await asyncio.sleep(0)
            if rest is None:
                # The usual case: the whole body was ready, so it is sent from here, outside
                # the portal, which saves a sync -> async round trip per response.
                guard.close()
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": b"".join(chunks)})
                return
            await send({"type": "http.response.start", "status": status, "headers": headers})
            # A streamed body: iterating it runs app code, which may need the portal
            # (runtime.run). The guard stays up: a stream can outlast its client by far.
            await runtime.call_with_portal(self._stream, send, chunks, rest)
        except asyncio.CancelledError:
            if guard.cancelled_request():
                return  # nobody is waiting for this response any more
            raise
        finally:
            guard.close()

    def _respond(
        self, environ: dict[str, Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], list[bytes], Iterator[bytes] | None]:
        """Run Flask (sync, inside the portal) and return its response.

        Returns the status, the headers, the first chunks of the body and, for a body that
        has more to come (a generator), the iterator still to be drained; ``None`` once the
        body is complete, after closing it as WSGI requires.
        """
        head: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None, /
        ) -> Callable[[bytes], object]:
            head["status"] = int(status.split(" ", 1)[0])
            head["headers"] = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
            ]
            return _no_write

        body: Iterable[bytes] = self.app.wsgi_app(environ, start_response)
        try:
            if isinstance(body, list | tuple):
                chunks = list(body)
            else:
                # One chunk is usual; a second one means a stream, left for _stream to drain.
                # WSGI calls start_response before it yields anything, so the head is known
                # once the first chunk is.
                iterator = iter(body)
                chunks = [chunk for chunk in (next(iterator, None),) if chunk is not None]
                if chunks and (second := next(iterator, None)) is not None:
                    rest = _then_close(iterator, body)
                    return head["status"], head["headers"], [chunks[0], second], rest
        except BaseException:
            _close(body)
            raise
        _close(body)
        return head["status"], head["headers"], chunks, None

    def _stream(self, send: Send, chunks: list[bytes], rest: Iterator[bytes]) -> None:
        """Send a streamed body chunk by chunk, from inside the portal, then close it."""
        try:
            runtime.run(_send_stream(send, chunks, rest))
        finally:
            _close(rest)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.app.startup_hooks:
                        await hook()
                except Exception as exc:  # reported to the server, which exits
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in reversed(self.app.shutdown_hooks):
                    try:
                        await hook()
                    except Exception:  # close what else we can
                        log.exception("shutdown hook failed", hook=hook.__qualname__)
                self.app.sync_view_executor.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


class _DisconnectGuard:
    """Cancel the request's task when its client disconnects before the answer is done.

    Hypercorn tells the app about a disconnect only through ``receive()``; nothing stops the
    work. Without this guard a login abandoned by its client still waits its turn for an
    argon2 hash and spends the CPU of one (~150 ms), and a client that times out and retries
    under overload doubles the load on a server that is already behind. Cancelling reaches the
    coroutine the view awaits, inside the portal, as ``asyncio.CancelledError``; the view's
    ``finally`` blocks and Flask's teardown run, queued store and hash jobs are dropped, and
    whatever a store call has already started in its thread completes (``sql_store.py``).
    Quart and Django cancel the same way.

    Watching costs a task per request, so the guard arms only once a request has run for
    :data:`WATCH_AFTER` seconds: most requests are answered before that and never pay for it.
    A disconnect that happened earlier is still seen: Hypercorn queues the message.
    """

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(WATCH_AFTER, self._arm)
        self._watcher: asyncio.Task[None] | None = None
        self._cancelled = False

    def _arm(self) -> None:
        self._timer = None
        self._watcher = self._loop.create_task(self._watch())

    async def _watch(self) -> None:
        try:
            while (await self._receive())["type"] != "http.disconnect":
                pass
        except Exception:  # the server can no longer tell: leave the request be
            return
        if self._task is not None and not self._task.done():
            self._cancelled = True
            self._task.cancel("the client disconnected")

    def cancelled_request(self) -> bool:
        """True if the guard cancelled the task, and nothing else did: then it may return."""
        return self._cancelled and self._task is not None and self._task.uncancel() == 0

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None


#: Seconds a request runs before the adapter starts watching for its client to disconnect.
WATCH_AFTER = 0.1


def _no_write(data: bytes) -> object:
    raise NotImplementedError("the WSGI write() callable is not supported; return the body")


async def _read_body(scope: Scope, receive: Receive, limit: int | None) -> bytes:
    """Read the whole request body, refusing more than ``limit`` bytes before buffering it."""
    declared = _header(scope, b"content-length")
    if limit is not None and declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _send_stream(send: Send, chunks: list[bytes], rest: Iterator[bytes]) -> None:
    """Send ``chunks`` then ``rest``, each held back a step so that the last is marked final."""
    previous: bytes | None = None
    for chunk in itertools.chain(chunks, rest):
        if previous is not None:
            await send({"type": "http.response.body", "body": previous, "more_body": True})
        previous = chunk
    await send({"type": "http.response.body", "body": previous or b"", "more_body": False})


def _then_close(iterator: Iterator[bytes], body: object) -> Iterator[bytes]:
    """The rest of ``iterator``; closes the WSGI ``body`` when done or closed early."""
    try:
        yield from iterator
    finally:
        _close(body)


def _close(body: object) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


async def _send_simple(send: Send, status: int, message: str) -> None:
    body = json_error_body(status, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def build_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an ASGI HTTP scope.

    Header names containing ``_`` are dropped, as nginx and gunicorn do: WSGI folds ``-`` into
    ``_``, so ``X_Forwarded_For`` could otherwise smuggle a value into ``X-Forwarded-For``.
    """
    root_path: str = scope.get("root_path", "")
    path: str = scope["path"]
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root_path.encode().decode("latin-1"),
        "PATH_INFO": path.encode().decode("latin-1"),
        "QUERY_STRING": bytes(scope["query_string"]).decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        key = _environ_key(bytes(raw_name))
        if key is None:
            continue
        value = bytes(raw_value).decode("latin-1")
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ","
            value = environ[key] + separator + value
        environ[key] = value
    return environ


@functools.lru_cache(maxsize=512)
def _environ_key(raw_name: bytes) -> str | None:
    """``content-type`` -> ``CONTENT_TYPE``, ``x-id`` -> ``HTTP_X_ID``; ``None`` to drop it.

    Cached: clients send the same few header names on every request.
    """
    name = raw_name.decode("latin-1").lower()
    if "_" in name:
        return None
    if name in ("content-length", "content-type"):
        return name.upper().replace("-", "_")
    return "HTTP_" + name.upper().replace("-", "_")
