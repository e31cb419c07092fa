"""The shared HTTP client: httpx2, keeping no cookies, with a cheaper check of idle connections.

One client serves every request the worker handles, for every user, so it must not keep
cookies: httpx2's default jar stores each ``Set-Cookie`` an upstream answers with and sends it
on every later call to that host, whoever that call is made for (httpx's author: a global
client in a web app "absolutely" should not persist cookies, encode/httpx#1359). The client's
jar here refuses every cookie; a view that needs one for a call passes it in that call's
headers.

Before every request and after every response, httpcore2's connection pool asks each idle
keep-alive connection whether the server has closed it ("is the socket readable?"). Its anyio
stream answers by rebuilding a dict of socket attributes each time, about 7 µs, and with a
hundred connections in flight that is a hundred-odd checks per request: measured with the
template's ``bench/``, a third of the service's CPU per upstream call. This module keeps the
socket and a ``poll`` object registered for it, and asks ``poll`` directly (0.4 µs), so the
same check costs a twentieth. Everything else is httpx2's own pool and transport. Drop it once
the pool tracks idle connections incrementally (pydantic/httpx2#1169).
"""

# The signatures, ``timeout`` arguments included, are httpcore2's network-backend interface.
# ruff: noqa: ASYNC109

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpcore2
import httpx2


def new_client(*, timeout: httpx2.Timeout, max_connections: int) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` with up to ``max_connections``, all kept alive when idle, that
    keeps no cookies."""
    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    transport = httpx2.AsyncHTTPTransport(limits=limits)
    pool = transport._pool  # httpx2 builds the pool itself and takes no network backend
    pool._network_backend = CheapProbeBackend()
    return httpx2.AsyncClient(transport=transport, timeout=timeout, cookies=_refusing_jar())


def _refusing_jar() -> CookieJar:
    """A cookie jar whose policy allows no domain: nothing is stored, so nothing is sent."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=()))


class CheapProbeBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's anyio backend, with streams that remember their socket."""

    def __init__(self) -> None:
        self._backend = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return CheapProbeStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(path, timeout, socket_options)
        return CheapProbeStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class CheapProbeStream(httpcore2.AsyncNetworkStream):
    """Delegates to the wrapped stream, except that ``is_readable`` polls a cached socket."""

    def __init__(self, stream: httpcore2.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = stream.get_extra_info("socket")
        self._poller = _poller(self._socket)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        return CheapProbeStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket, self._poller)
        return self._stream.get_extra_info(info)


def _poller(sock: socket.socket | None) -> select.poll | None:
    """A ``poll`` object watching ``sock`` for reads; ``None`` where there is no ``poll``."""
    if sock is None or not hasattr(select, "poll"):  # Windows has only select()
        return None
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return poller


def _readable(sock: socket.socket | None, poller: select.poll | None) -> bool:
    """True if a read would not block: data, or the end of a connection the server closed."""
    # A closed socket reports fileno -1, checked first: its number may already belong to a new
    # socket, which the poller (registered by number) would then be asking about.
    if sock is None or sock.fileno() < 0:
        return True  # as httpcore2 does: treat a vanished socket as closed by the server
    if poller is None:
        return bool(select.select([sock], [], [], 0)[0])
    return bool(poller.poll(0))
