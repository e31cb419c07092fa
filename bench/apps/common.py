"""What the reference apps share: the framework-free parts of the baked service's behaviour.

Nothing here imports the service. Each piece is written against public packages (httpx,
httpx-aiohttp, pydantic) and copies what the service does, so that Quart, FastAPI and stock
Flask run the same code around their frameworks and answer what the service answers:

* the user store, in ``stores.py`` (its docstring says how each store copies the service's);
* the security headers the service adds to every response (values copied from its
  ``security.py``; plain HTTP here, so no HSTS);
* the JSON error body ``{"error": {"status", "title", "detail"}}``;
* the upstream call through one ``httpx.AsyncClient``, whose transport
  ``MY_SERVICE_UPSTREAM_TRANSPORT`` chooses, as it does for the service.

Settings come from the environment variables the harness sets for every variant alike.
"""

from __future__ import annotations

import gc
import os
import re
import unicodedata
from http import HTTPStatus
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import BaseModel, Field


def setting(name: str, default: str) -> str:
    return os.environ.get(f"MY_SERVICE_{name}", default)


UPSTREAM_URL = setting("UPSTREAM_URL", "http://127.0.0.1:8081/")
SECRET_KEY = setting("SECRET_KEY", "") or "bench-only-secret"
TRANSPORT = setting("UPSTREAM_TRANSPORT", "aiohttp")
BEARER = re.compile(r"[Bb]earer ([A-Za-z0-9._~+/-]{1,256}=*)")
#: The service's default log-in lifetime (12 hours), in seconds.
LOGIN_LIFETIME = 12 * 3600

# --- responses -----------------------------------------------------------------------------

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
AUTH_HEADERS = (*SECURITY_HEADERS, ("Cache-Control", "no-store"))
#: What a 401 from ``/auth/me`` carries, as the service's.
LOG_IN_FIRST = {"WWW-Authenticate": 'Bearer realm="api", Cookie realm="login"'}
LOG_IN_FIRST_DETAIL = "Log in first, or send an access token."
#: What a 401 for a bearer token that does not authenticate carries, as the service's.
INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
INVALID_TOKEN_DETAIL = "The access token is invalid, expired or revoked."


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, ``""`` if malformed, None without one
    (the service's rule: RFC 6750's b64token, at most 256 characters)."""
    if authorization is None or authorization[:7].lower() != "bearer ":
        return None
    match = BEARER.fullmatch(authorization)
    return match.group(1) if match else ""


def security_headers(path: str) -> tuple[tuple[str, str], ...]:
    """The headers the service adds to a response for ``path``; ``/auth/*`` is never cached."""
    return AUTH_HEADERS if path.startswith("/auth") else SECURITY_HEADERS


def error_body(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "error": {"status": status, "title": HTTPStatus(status).phrase, "detail": detail, **extra}
    }


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def normalize_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip()


def freeze_startup_heap() -> None:
    """``gc.freeze()`` after start-up, as the service does: a GC setting, not a framework's."""
    gc.collect()
    gc.freeze()


# --- the upstream call ---------------------------------------------------------------------

#: httpx's default, built once: it costs tens of ms of CPU (stock Flask makes a client per request).
SSL_CONTEXT = httpx.create_ssl_context()
TIMEOUT = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=5.0)
MAX_CONNECTIONS = 100


def new_upstream_client(transport: str = TRANSPORT) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with the service's timeouts and pool size, keeping no cookies.

    ``aiohttp``: httpx-aiohttp's transport, over an ``aiohttp.ClientSession`` made on first use
    (on the loop that uses it); ``httpx``: httpx's own transport. Proxy variables are not read.
    """
    # One client serves every user: a cookie an upstream sets must not be sent for the next.
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    if transport == "aiohttp":

        def session() -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=SSL_CONTEXT)
            return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

        return httpx.AsyncClient(
            transport=AiohttpTransport(verify=SSL_CONTEXT, client=session),
            timeout=TIMEOUT,
            cookies=no_cookies,
            trust_env=False,
        )
    if transport == "httpx":
        # httpx's default limits, written out: 100 connections, 20 of them kept alive. Keeping
        # more alive costs CPU on every call (httpcore checks each idle connection for each
        # queued request, encode/httpcore#1035; docs/performance.md has the figures).
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=20)
        return httpx.AsyncClient(
            verify=SSL_CONTEXT, limits=limits, timeout=TIMEOUT, cookies=no_cookies, trust_env=False
        )
    raise ValueError(f"MY_SERVICE_UPSTREAM_TRANSPORT must be aiohttp or httpx, not {transport!r}")


async def fetch_upstream(client: httpx.AsyncClient, url: str) -> tuple[dict[str, Any], int]:
    """The service's ``GET /upstream``: the upstream's JSON, or 502/504 as a JSON error."""
    try:
        reply = await client.get(url)
    except (httpx.HTTPError, aiohttp.ClientError, OSError) as error:
        if _timed_out(error):
            return error_body(504, "The upstream service did not answer in time."), 504
        return error_body(502, "The upstream service could not be reached."), 502
    if reply.status_code >= 500:
        body = error_body(502, "The upstream service failed.", upstream_status=reply.status_code)
        return body, 502
    try:
        payload = reply.json()
    except ValueError:
        return error_body(502, "The upstream service did not answer with JSON."), 502
    return {"upstream_status": reply.status_code, "upstream": payload}, 200


def _timed_out(error: Exception) -> bool:
    """Whether a failed call timed out. httpx-aiohttp 0.2 maps every aiohttp connection error,
    a refused connection included, to ``httpx.ConnectTimeout`` (its broad mapping matches
    first); aiohttp's own exception, the ``__cause__``, tells (its timeouts are TimeoutErrors).
    """
    cause = error.__cause__
    if isinstance(cause, aiohttp.ClientError):
        return isinstance(cause, TimeoutError)
    return isinstance(error, httpx.TimeoutException | TimeoutError)


class Upstream:
    """One client per worker: opened when the app starts serving, closed when it stops."""

    def __init__(self) -> None:
        self.client: httpx.AsyncClient | None = None

    def open(self) -> None:
        self.client = new_upstream_client()

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def get_json(self, url: str = UPSTREAM_URL) -> tuple[dict[str, Any], int]:
        assert self.client is not None, "the app has not started serving"
        return await fetch_upstream(self.client, url)
