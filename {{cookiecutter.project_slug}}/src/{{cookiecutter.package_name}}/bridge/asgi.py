"""Serve a :class:`~.app.LoopFlask` over ASGI, on the server's own event loop.

Hypercorn can serve a WSGI app itself, but it then runs each request in a thread of its default
executor and offers no lifespan events. This adapter instead runs Flask's request handling inside
the request's own asyncio task, through :func:`~.portal.call_with_portal`, so async views and the
async user store are awaited on Hypercorn's loop. Sync views still go to a thread pool (see
:class:`~.app.LoopFlask`).

Lifespan events become the app's own :meth:`~.app.LoopFlask.startup` and
:meth:`~.app.LoopFlask.shutdown`. Every answer, a refused body included, is the app's: the
adapter renders nothing itself.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog

from .app import LoopFlask
from .disconnect import DisconnectGuard
from .environ import (
    BODY_TOO_LARGE,
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    build_environ,
    read_body,
)
from .portal import call_with_portal, run

log = structlog.get_logger(__name__)


class ASGIAdapter:
    """An ASGI application wrapping one Flask app."""

    def __init__(self, app: LoopFlask) -> None:
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
            environ = build_environ(scope, await read_body(scope, receive, limit))
        except BodyTooLarge:
            # The app answers 413 itself, through its hooks and error handlers.
            environ = build_environ(scope, b"")
            environ[BODY_TOO_LARGE] = True
        except ClientDisconnected:
            return  # a truncated request is not run: its body is not what the client meant
        guard = DisconnectGuard(receive)
        try:
            status, headers, chunks, rest = await call_with_portal(self._respond, environ)
            # Send from the loop's next pass. Under load one pass runs many resumed requests'
            # Flask work back to back, while a request that has just arrived needs several
            # passes to reach the app (Hypercorn hands it from the socket to a read task, then
            # to an app task). Yielding between the work and the send lets new requests in
            # between, so upstream calls do not bunch up and leave the loop idle between
            # bunches.
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
            # (bridge.run). The guard stays up: a stream can outlast its client by far.
            await call_with_portal(self._stream, send, chunks, rest)
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
            run(_send_stream(send, chunks, rest))
        finally:
            _close(rest)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.app.startup()
                except Exception as exc:  # reported to the server, which exits
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.app.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


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


def _no_write(data: bytes) -> object:
    raise NotImplementedError("the WSGI write() callable is not supported; return the body")
