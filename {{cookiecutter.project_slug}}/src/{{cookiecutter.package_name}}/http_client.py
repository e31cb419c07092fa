"""The shared HTTP client: one ``aiohttp.ClientSession`` per worker, keeping no cookies.

Why aiohttp: on the upstream cells of the template's ``bench/`` the worker is bound by one core,
and most of that core went to the HTTP client. Measured in one process against the bench's
50 ms upstream with 100 calls in flight, a call cost 1.5-2.2 ms of CPU through httpx2 (its
pool's bookkeeping in Python, anyio streams, h11) and 0.26-0.29 ms through aiohttp (a C parser
fed by an ``asyncio.Protocol``, a pool that hands out idle connections from a deque).
The template's docs/performance.md has the figures and what they did to its harness.

One session serves every request the worker handles, for every user, so it must not keep
cookies: a cookie jar would store each ``Set-Cookie`` an upstream answers with and send it on
every later call to that host, whoever that call is made for. ``DummyCookieJar`` stores nothing;
a view that needs a cookie for a call passes it in that call's headers.

The session is bound to the event loop it is created on; ``resources.py`` creates it on
Hypercorn's loop at startup, and ``runtime.py`` runs every view on that loop.

Proxy variables (``HTTP_PROXY``, ``NO_PROXY``, ...) are not read, aiohttp's default: calls go
straight to the upstream. Pass ``trust_env=True`` to the session if your network needs a proxy.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp


def new_client(
    *, connect_timeout: float, read_timeout: float, max_connections: int
) -> aiohttp.ClientSession:
    """A session with up to ``max_connections`` kept-alive connections and no cookie jar.

    Must be called with the loop it will serve running (aiohttp binds the session to it).
    """
    timeout = aiohttp.ClientTimeout(
        total=None,
        # aiohttp's ``connect`` covers waiting for a free pooled connection as well as opening
        # one: a call waits at most the read timeout for the pool, and at most
        # ``connect_timeout`` for a new connection's TCP (and TLS) handshake.
        connect=read_timeout,
        sock_connect=connect_timeout,
        sock_read=read_timeout,
    )
    connector = aiohttp.TCPConnector(limit=max_connections)
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    )


class UpstreamError(Exception):
    """An upstream call that failed; ``status`` is what to answer (502, or 504 for a timeout).

    ``errors.py`` renders it as a JSON error with ``detail`` and ``extra``, as for any view.
    """

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


async def get_json(client: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    """``GET url``: the upstream's status and decoded JSON body, or :class:`UpstreamError`.

    The body is read inside the ``async with``: leaving it returns the connection to the
    pool, and a read that times out or breaks off is an upstream failure like any other.
    """
    try:
        async with client.get(url) as reply:
            status = reply.status
            body = await reply.read()
    except TimeoutError:  # aiohttp's connect and read timeouts are TimeoutErrors
        raise UpstreamError(504, "The upstream service did not answer in time.") from None
    except aiohttp.ClientError:
        raise UpstreamError(502, "The upstream service could not be reached.") from None
    if status >= 500:
        raise UpstreamError(502, "The upstream service failed.", upstream_status=status)
    try:
        return status, json.loads(body)
    except ValueError:
        raise UpstreamError(502, "The upstream service did not answer with JSON.") from None
