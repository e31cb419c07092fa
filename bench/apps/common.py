"""What the reference apps share: the framework-free parts of the baked service's behaviour.

Nothing here imports the service. Each piece is written against public packages (the stdlib's
``sqlite3``, argon2-cffi, httpx, httpx-aiohttp) and copies what the service does, so that Quart,
FastAPI and stock Flask run the same code around their frameworks and answer what the service
answers:

* the user store: the service's SQLite file (its ``users`` table, made by the service's
  migration), each call one hop to a pool of two threads with a connection each, as the
  service's store does; password checks in a second pool of two. Log-ins are recorded in a
  table of the references' own, ``bench_logins``, created at start-up;
* the security headers the service adds to every response (values copied from its
  ``security.py``; plain HTTP here, so no HSTS);
* the JSON error body ``{"error": {"status", "title", "detail"}}``;
* the upstream call through one ``httpx.AsyncClient``, whose transport
  ``MY_SERVICE_UPSTREAM_TRANSPORT`` chooses, as it does for the service.

Settings come from the environment variables the harness sets for every variant alike.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, NamedTuple, TypeVar

import aiohttp
import httpx
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from httpx_aiohttp import AiohttpTransport
from pydantic import BaseModel, Field

T = TypeVar("T")


def setting(name: str, default: str) -> str:
    return os.environ.get(f"MY_SERVICE_{name}", default)


DATABASE = setting("DATABASE_URL", "sqlite:///instance/my_service.sqlite3").split(":///", 1)[1]
UPSTREAM_URL = setting("UPSTREAM_URL", "http://127.0.0.1:8081/")
SECRET_KEY = setting("SECRET_KEY", "") or "bench-only-secret"
TRANSPORT = setting("UPSTREAM_TRANSPORT", "aiohttp")
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
LOG_IN_FIRST = {"WWW-Authenticate": 'Cookie realm="login", form="/auth/login"'}


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


# --- the user store ------------------------------------------------------------------------


class User(NamedTuple):
    id: int
    username: str


SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_logins (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_bench_logins_user_id ON bench_logins (user_id);
"""
USER_BY_NAME = "SELECT id, username, password_hash FROM users WHERE username = ?"
USER_FOR_TOKEN = (
    "SELECT users.id, users.username FROM users JOIN bench_logins"
    " ON bench_logins.user_id = users.id"
    " WHERE bench_logins.token_hash = ? AND bench_logins.expires_at > ?"
)
DELETE_EXPIRED = "DELETE FROM bench_logins WHERE user_id = ? AND expires_at <= ?"
INSERT_LOGIN = "INSERT INTO bench_logins VALUES (?, ?, ?, ?)"

_hasher = PasswordHasher()  # argon2-cffi's defaults, as the service's


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """Users and log-ins in the service's SQLite file; every call one hop to a store thread."""

    def __init__(self, path: str = DATABASE, threads: int = 2, password_threads: int = 2) -> None:
        self.path = path
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="store")
        self._password_pool = ThreadPoolExecutor(password_threads, thread_name_prefix="password")
        with sqlite3.connect(path) as conn:
            conn.executescript(SCHEMA)
        conn.close()
        self._dummy_hash = _hasher.hash("dummy password for timing equalisation")

    def _conn(self) -> sqlite3.Connection:
        """This store thread's connection, tuned as the service tunes its connections."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.path)
            conn.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                " PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;"
            )
        return conn

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def _user_for_token(self, token: str) -> User | None:
        row = self._conn().execute(USER_FOR_TOKEN, (_hash_token(token), time.time())).fetchone()
        return None if row is None else User(*row)

    async def user_for_token(self, token: str) -> User | None:
        """The user logged in with ``token``: one join of users and log-ins, by its hash."""
        return await self._run(self._user_for_token, token)

    def user_for_token_blocking(self, token: str) -> User | None:
        """The same, for sync code (stock Flask's ``user_loader``): waits for a store thread."""
        return self._pool.submit(self._user_for_token, token).result()

    async def authenticate(self, username: str, password: str) -> User | None:
        row = await self._run(lambda: self._conn().execute(USER_BY_NAME, (username,)).fetchone())
        loop = asyncio.get_running_loop()
        # An unknown name costs one verification too, so failures do not reveal which names exist.
        password_hash = self._dummy_hash if row is None else row[2]
        ok = await loop.run_in_executor(self._password_pool, _verify, password_hash, password)
        return User(row[0], row[1]) if ok and row is not None else None

    async def start_login(self, user: User) -> str:
        """Record a log-in of ``user`` (dropping their expired ones); its token."""
        token = secrets.token_urlsafe(32)

        def record() -> None:
            now = time.time()
            with self._conn() as conn:  # one transaction
                conn.execute(DELETE_EXPIRED, (user.id, now))
                conn.execute(INSERT_LOGIN, (_hash_token(token), user.id, now, now + LOGIN_LIFETIME))

        await self._run(record)
        return token

    def close(self) -> None:
        self._pool.shutdown()
        self._password_pool.shutdown()


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
