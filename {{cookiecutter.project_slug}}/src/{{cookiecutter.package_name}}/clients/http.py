"""The shared HTTP client: one ``httpx.AsyncClient`` per worker, keeping no cookies.

Views write ordinary httpx code against it (``await client.get(url)``,
``await client.post(url, json=...)``). Underneath, the wire is one of two transports
(``upstream_transport``):

- ``aiohttp`` (default): httpx-aiohttp's ``AiohttpTransport``, the transport the OpenAI and
  Anthropic SDKs ship as their fast async client. aiohttp parses responses in C and hands out
  pooled connections cheaply, which matters when many calls are in flight at once.
- ``httpx``: httpx's own transport (httpcore). Its pool's bookkeeping costs more CPU per call
  under many concurrent calls (encode/httpcore#1035); choose it for what only it can do (HTTP/2,
  with ``http2=True`` and the ``h2`` package).

One client serves every request the worker handles, for every user, so it must not keep
cookies: a cookie jar would store each ``Set-Cookie`` an upstream answers with and send it on
every later call to that host, whoever that call is made for. Neither httpx's jar nor aiohttp's
stores anything here; a view that needs a cookie for a call passes it in that call's headers.

With metrics on, ``observe`` hears of every call: the host, the status (None for a call that
failed without one) and the seconds until the answer's headers arrived.

The client is bound to the event loop it first runs on; ``resources.py`` opens it when the
worker starts and the bridge runs every view on that loop. Proxy variables (``HTTP_PROXY``,
...) are not read: calls go straight to the upstream (pass ``proxy=`` if yours needs one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Literal

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

Transport = Literal["aiohttp", "httpx"]
#: ``observe(host, status, seconds)``: where each call's outcome goes (metrics).
Observe = Callable[[str, int | None, float], None]
#: Idle connections httpx's own transport keeps open (httpx's default).
KEEPALIVE_CONNECTIONS = 20


def new_client(
    *,
    connect_timeout: float,
    read_timeout: float,
    max_connections: int,
    transport: Transport = "aiohttp",
    observe: Observe | None = None,
) -> httpx.AsyncClient:
    """A client with up to ``max_connections`` kept-alive connections and no cookie jar.

    ``connect_timeout`` bounds opening a connection; ``read_timeout`` bounds each read and
    write, and the wait for a free pooled connection.
    """
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    # httpx's default keep-alive bound, set explicitly: unbounded (as a bare max_connections
    # leaves it), httpcore's pool walks every idle connection on each call.
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=KEEPALIVE_CONNECTIONS
    )
    wire: httpx.AsyncBaseTransport
    if transport == "aiohttp":
        wire = _AiohttpTransport(limits=limits, trust_env=False, client=_aiohttp_session(limits))
    else:
        wire = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    if observe is not None:
        wire = _ObservedTransport(wire, observe)
    return httpx.AsyncClient(
        transport=wire, timeout=timeout, cookies=_no_cookies(), trust_env=False
    )


def _no_cookies() -> CookieJar:
    """A cookie jar whose policy refuses every cookie, so nothing is kept between calls.

    A ``CookieJar``, not ``httpx.Cookies``: httpx copies the cookies of a ``Cookies`` it is
    given into a jar of its own, and that jar's policy would accept them.
    """
    return CookieJar(DefaultCookiePolicy(allowed_domains=[]))


def _aiohttp_session(limits: httpx.Limits) -> Callable[[], aiohttp.ClientSession]:
    """A factory the transport calls on first use, so the session binds to the serving loop."""

    def make() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=limits.max_connections or 0)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return make


class _AiohttpTransport(AiohttpTransport):
    """``AiohttpTransport`` whose timeouts are timeouts, and whose errors are all httpx's.

    httpx-aiohttp maps every aiohttp connection error (refused, reset, closed early) to
    ``httpx.ConnectTimeout``; here only a real timeout stays one, the rest become
    ``httpx.ConnectError``, so a caller can tell "down" (502) from "too slow" (504). An answer
    that is not HTTP at all raises aiohttp's own ``ClientResponseError``, which httpx-aiohttp
    lets through unmapped; here it is ``httpx.RemoteProtocolError``, as httpx's transport says.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.TimeoutException as error:
            if isinstance(error.__cause__, TimeoutError):
                raise
            raise httpx.ConnectError(str(error), request=request) from error.__cause__
        except aiohttp.ClientError as error:
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise httpx.RemoteProtocolError(first_line, request=request) from error


class _ObservedTransport(httpx.AsyncBaseTransport):
    """Tells ``observe`` each call's host, status and time until the answer's headers."""

    def __init__(self, wire: httpx.AsyncBaseTransport, observe: Observe) -> None:
        self._wire = wire
        self._observe = observe

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        status = None
        try:
            response = await self._wire.handle_async_request(request)
            status = response.status_code
            return response
        finally:
            host = request.url.netloc.decode("ascii", "replace")
            self._observe(host, status, time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._wire.aclose()


class UpstreamError(Exception):
    """An upstream call that failed; ``status`` is what to answer (502, or 504 for a timeout).

    The web layer renders it as a JSON error with ``detail`` and ``extra``, as for any view.
    """

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


async def get_json(client: httpx.AsyncClient, url: str) -> tuple[int, Any]:
    """``GET url``: the upstream's status and decoded JSON body, or :class:`UpstreamError`.

    The whole body is read before this returns, which hands the connection back to the pool;
    a read that times out or breaks off is an upstream failure like any other.
    """
    try:
        reply = await client.get(url)
    except httpx.TimeoutException:
        raise UpstreamError(504, "The upstream service did not answer in time.") from None
    except httpx.HTTPError:
        raise UpstreamError(502, "The upstream service could not be reached.") from None
    if reply.status_code >= 500:
        raise UpstreamError(502, "The upstream service failed.", upstream_status=reply.status_code)
    try:
        return reply.status_code, reply.json()
    except ValueError:
        raise UpstreamError(502, "The upstream service did not answer with JSON.") from None
