"""From an ASGI HTTP request to the PEP 3333 environ Flask runs on.

The adapter reads the whole body before Flask runs, as a WSGI server does, refusing more than
``MAX_CONTENT_LENGTH`` bytes before buffering them.
"""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Environ key set when the body was refused as too large: the app answers 413 through Flask.
BODY_TOO_LARGE = "bridge.body_too_large"
#: Environ key the app sets once its response is final: whether the body is streamed (a
#: generator, a file) rather than held in memory.
STREAMED_BODY = "bridge.streamed_body"


class BodyTooLarge(Exception):
    """The client sent more than ``MAX_CONTENT_LENGTH`` bytes."""


class ClientDisconnected(Exception):
    """The client went away before it had sent the whole request."""


async def read_body(scope: Scope, receive: Receive, limit: int | None) -> bytes:
    """Read the whole request body, refusing more than ``limit`` bytes before buffering it."""
    declared = header(scope, b"content-length")
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


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lowercase bytes) in ``scope``, or None."""
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
    scheme: str = scope.get("scheme", "http")
    server = scope.get("server") or ("localhost", None)
    # ASGI allows no port (a Unix socket, a test client); WSGI wants one, and code such as
    # OpenTelemetry's WSGI attributes reads it as a number.
    port = server[1] if server[1] is not None else (443 if scheme == "https" else 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root_path.encode().decode("latin-1"),
        "PATH_INFO": path.encode().decode("latin-1"),
        "QUERY_STRING": bytes(scope["query_string"]).decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
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
