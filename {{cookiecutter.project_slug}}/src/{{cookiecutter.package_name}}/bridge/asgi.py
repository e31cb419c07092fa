"""Serve a :class:`~.app.LoopFlask` over ASGI, on the server's own event loop.

Hypercorn can serve a WSGI app itself, but it then runs each request in a thread of its default
executor and offers no lifespan events. This adapter instead runs a request for an async view
inside the request's own asyncio task, through :func:`~.portal.call_with_portal`, so the view
and the async user store are awaited on Hypercorn's loop. A request for a sync view runs whole
in a thread of the app's pool, as under WSGI (:meth:`~.app.LoopFlask.runs_in_thread`). A
streamed body (a generator, a file) is iterated in a thread too, and each chunk is sent as soon
as it exists: generator code may block, and the loop serves everyone else meanwhile.

Lifespan events become the app's own :meth:`~.app.LoopFlask.startup` and
:meth:`~.app.LoopFlask.shutdown`. Every answer, a refused body included, is the app's: the
adapter renders nothing itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from .app import LoopFlask
from .disconnect import DisconnectGuard
from .environ import (
    BODY_TOO_LARGE,
    STREAMED_BODY,
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    build_environ,
    read_body,
)
from .portal import call_with_portal, run, thread_context
from .threads import call_in_thread

#: What Flask answered: the status and headers (from ``start_response``), the body in memory,
#: or ``None`` for a body still to be iterated (then the adapter iterates it in a thread).
Head = dict[str, Any]

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
        stop = threading.Event()  # asks a thread sending a stream to stop after this chunk
        try:
            if self.app.runs_in_thread(environ):
                respond = self._respond_in_thread
                head, chunks = await self._in_thread(stop, respond, environ, send, stop)
            else:
                head, chunks, body = await call_with_portal(self._respond, environ)
                if chunks is None:
                    await self._in_thread(stop, self._stream, head, body, send, stop)
                    return
                # Send from the loop's next pass. Under load one pass runs many resumed
                # requests' Flask work back to back, while a request that has just arrived
                # needs several passes to reach the app (Hypercorn hands it from the socket to a
                # read task, then to an app task). Yielding between the work and the send lets
                # new requests in between, so upstream calls do not bunch up and leave the loop
                # idle between bunches.
                await asyncio.sleep(0)
            if chunks is not None:  # the whole body is here: send it from the loop
                guard.close()
                await send(_start(head))
                await send({"type": "http.response.body", "body": b"".join(chunks)})
        except asyncio.CancelledError:
            if guard.cancelled_request():
                return  # nobody is waiting for this response any more
            raise
        finally:
            guard.close()

    async def _in_thread(self, stop: threading.Event, func: Callable[..., Any], *args: Any) -> Any:
        """``func(*args)`` in the app's pool; cancelled, it is asked to stop and waited for."""
        return await call_in_thread(
            self.app.sync_view_executor,
            thread_context(),
            func,
            *args,
            cancel_wait=self.app.thread_cancel_wait,
            on_cancel=stop.set,
        )

    def _respond(self, environ: dict[str, Any]) -> tuple[Head, list[bytes] | None, Iterable[bytes]]:
        """Run Flask and return the head, the body's chunks if it is in memory, and the body.

        A body in memory is read here and closed, as WSGI requires; a streamed one is left
        untouched (``None`` chunks) for :meth:`_stream`, since reading it runs its code.
        """
        head: Head = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None, /
        ) -> Callable[[bytes], object]:
            head["status"] = int(status.split(" ", 1)[0])
            head["headers"] = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
            ]
            return _no_write

        body: Iterable[bytes] = self.app.wsgi_app(environ, start_response)
        if not isinstance(body, list | tuple) and environ.get(STREAMED_BODY) is not False:
            return head, None, body
        try:
            return head, list(body), body
        finally:
            _close(body)

    def _respond_in_thread(
        self, environ: dict[str, Any], send: Send, stop: threading.Event
    ) -> tuple[Head, list[bytes] | None]:
        """In a thread: run Flask, and send a streamed body from here as a WSGI server would."""
        head, chunks, body = self._respond(environ)
        if chunks is None:
            self._stream(head, body, send, stop)
        return head, chunks

    def _stream(self, head: Head, body: Iterable[bytes], send: Send, stop: threading.Event) -> None:
        """In a thread: send each chunk as soon as the body yields it, then close the body.

        ``stop`` (the request was cancelled) ends the stream after the chunk in hand.
        """
        try:
            if head:
                run(_send(send, _start(head)))
            for chunk in body:
                if not head.get("sent"):  # WSGI allows start_response as late as this
                    run(_send(send, _start(head)))
                if chunk:
                    message = {"type": "http.response.body", "body": chunk, "more_body": True}
                    run(_send(send, message))
                if stop.is_set():
                    return
            if not head.get("sent"):
                run(_send(send, _start(head)))
            run(_send(send, {"type": "http.response.body", "body": b"", "more_body": False}))
        finally:
            _close(body)

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


async def _send(send: Send, message: dict[str, Any]) -> None:
    await send(message)


def _start(head: Head) -> dict[str, Any]:
    """The ``http.response.start`` message for ``head``; marks the head as sent."""
    head["sent"] = True
    return {"type": "http.response.start", "status": head["status"], "headers": head["headers"]}


def _close(body: object) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


def _no_write(data: bytes) -> object:
    raise NotImplementedError("the WSGI write() callable is not supported; return the body")
