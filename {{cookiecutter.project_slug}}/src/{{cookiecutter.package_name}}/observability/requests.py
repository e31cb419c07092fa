"""Every HTTP request, observed once at the ASGI edge: its id, one access-log event, its metrics.

:class:`RequestObserver` wraps the ASGI application Hypercorn serves (``asgi.py``), so it sees
every request the app answers, errors included, and measures what went over the wire:

- **Request id.** An ``X-Request-ID`` the client sent is kept if it is short and plain
  (:data:`REQUEST_ID`: up to 128 letters, digits, ``.``, ``_``, ``:`` or ``-``); anything else
  is replaced by a new random id. The id goes back in the response's ``X-Request-ID`` header and
  is bound with ``structlog.contextvars`` for the whole request, so every event the request logs
  carries ``request_id``: the bridge runs an async view's code in the request's own task and a
  sync view's in a thread with a copy of that task's context, and coroutines a thread waits for
  run in a copy of the thread's.
- **Access log.** One ``request`` event on the ``<package>.access`` logger once the last byte
  is sent: method, route, status, duration, bytes of body sent (streamed bodies included),
  client address, request id, and the user id when the request was authenticated. The route
  is the URL rule (``/auth/tokens/<int:token_id>``), never the raw path: paths can carry
  secrets and have no bound. A request no rule matched has the route ``unmatched``.
- **Metrics**, when on: the request's count and duration, per method, route and status.

The route and the user are known only inside Flask: the web layer writes them into the
request's :class:`Exchange` (:func:`current_exchange`). A request whose client went away before
the answer was sent is logged with status 499 (nginx's "client closed request"), one that
failed before any answer with 500.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any, Protocol

import structlog

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: An incoming ``X-Request-ID`` is kept only if it matches this; otherwise a new id is made.
REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
#: The route of a request that no URL rule matched (404, 405).
UNMATCHED = "unmatched"
#: Status logged for a request whose client disconnected before it was answered.
CLIENT_CLOSED = 499

_HEADER = b"x-request-id"


class AccessLog(Protocol):
    """Where the access events go: ``logs.AccessLogger``, or any structlog logger."""

    def info(self, event: str, **fields: Any) -> None: ...


class RequestMetrics(Protocol):
    """What the observer records per request (``metrics.Metrics`` does)."""

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None: ...


class Exchange:
    """One request as the observer sees it; the web layer fills in ``route`` and ``user_id``."""

    __slots__ = ("request_id", "route", "sent", "status", "user_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.route = UNMATCHED
        self.user_id: int | None = None
        self.status: int | None = None
        self.sent = 0


_exchange: ContextVar[Exchange | None] = ContextVar("exchange", default=None)


def current_exchange() -> Exchange | None:
    """The request being observed in this context, or None (Flask's test client, the CLI)."""
    return _exchange.get()


def new_request_id() -> str:
    """32 random hex digits, as ``uuid4().hex`` has, without building a UUID."""
    return os.urandom(16).hex()


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` if acceptable (:data:`REQUEST_ID`), else a new id."""
    for name, value in headers:
        if name == _HEADER:
            if REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return new_request_id()


class RequestObserver:
    """ASGI middleware: request id, access log and request metrics; see the module docstring.

    ``access_log`` is the logger of the access events (``logs.AccessLogger``), None for none
    (the ids and the metrics stay); ``metrics`` None records none.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: AccessLog | None,
        metrics: RequestMetrics | None = None,
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        exchange = Exchange(request_id_of(scope["headers"]))
        id_header = (_HEADER, exchange.request_id.encode("ascii"))

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.body":
                exchange.sent += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                exchange.status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        token = _exchange.set(exchange)
        bound = structlog.contextvars.bind_contextvars(request_id=exchange.request_id)
        try:
            await self.app(scope, receive, send_observed)
        except Exception:
            if exchange.status is None:  # the server answers 500 for the app
                exchange.status = 500
            raise
        finally:
            try:  # while the id is still bound: the access event takes it from the context
                self._record(scope, exchange, time.perf_counter() - started)
            finally:
                structlog.contextvars.reset_contextvars(**bound)
                _exchange.reset(token)

    def _record(self, scope: Scope, exchange: Exchange, seconds: float) -> None:
        status = exchange.status if exchange.status is not None else CLIENT_CLOSED
        method: str = scope["method"]
        if self.metrics is not None:
            self.metrics.observe_request(method, exchange.route, status, seconds)
        if self.access_log is not None:
            client = scope.get("client")
            fields: dict[str, Any] = {
                "method": method,
                "route": exchange.route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "bytes": exchange.sent,
                "client": client[0] if client else None,
            }
            if exchange.user_id is not None:
                fields["user_id"] = exchange.user_id
            self.access_log.info("request", **fields)
