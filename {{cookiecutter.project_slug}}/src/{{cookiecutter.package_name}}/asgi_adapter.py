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

import io
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
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
        environ = build_environ(scope, body)
        await runtime.call_with_portal(self._respond, environ, send)

    def _respond(self, environ: dict[str, Any], send: Send) -> None:
        """Run Flask (sync, inside the portal) and stream its response to ``send``."""
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
            runtime.run(_send_body(send, head, body))
        finally:
            if hasattr(body, "close"):
                body.close()

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
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _send_body(send: Send, head: dict[str, Any], chunks: Iterable[bytes]) -> None:
    """Send the response; each chunk is held back one step so the last one is marked final."""
    iterator = iter(chunks)
    chunk = next(iterator, None)
    # WSGI calls start_response before it yields anything, so the head is known by now.
    await send(
        {"type": "http.response.start", "status": head["status"], "headers": head["headers"]}
    )
    if chunk is None:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    while chunk is not None:
        following = next(iterator, None)
        await send(
            {"type": "http.response.body", "body": chunk, "more_body": following is not None}
        )
        chunk = following


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
        name = bytes(raw_name).decode("latin-1").lower()
        if "_" in name:
            continue
        value = bytes(raw_value).decode("latin-1")
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ","
            value = environ[key] + separator + value
        environ[key] = value
    return environ
