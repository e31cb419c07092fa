"""The references' user stores: the service's SQLite file, or its PostgreSQL database.

Nothing here imports the service. Both stores read the service's ``users`` table (made by its
migration, with the bench user its CLI created) and record log-ins in a table of the
references' own, ``bench_logins``, created at start-up; a log-in token is kept as its SHA-256,
and the user behind a token is one join of ``users`` and ``bench_logins`` by that hash and the
expiry, as the service's lookup is. An access token (``Authorization: Bearer``) is looked up
in the service's own ``access_tokens`` table, by its SHA-256, with the user's ``is_active`` and
the token's expiry checked, as the service does. Password checks (argon2-cffi's defaults, as the
service's) run in a pool of two threads, as the service's do. Which store: the scheme of
``MY_SERVICE_DATABASE_URL``, the variable the harness sets for every variant alike
(:func:`open_store`).

* :class:`SQLiteStore`: each call one hop to a pool of two threads with a connection each, as
  the service's SQLite store does.
* :class:`PostgresStore`: asyncpg, as the service's PostgreSQL store: a pool of
  ``MY_SERVICE_DATABASE_POOL_SIZE`` connections (the service's default, 10) made on the loop
  that serves (``open`` runs in the app's start-up hook), queries awaited on that loop, a
  deadline of ``MY_SERVICE_DATABASE_TIMEOUT`` seconds on each (asyncpg's ``command_timeout``).

Stock Flask runs each async view on a throwaway loop, so it cannot share an asyncpg pool; it
uses :class:`SQLiteStore` only, whose ``user_for_token_blocking`` suits its sync user loader.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from common import LOGIN_LIFETIME, setting

T = TypeVar("T")

DATABASE_URL = setting("DATABASE_URL", "sqlite:///instance/my_service.sqlite3")
SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


class User(NamedTuple):
    id: int
    username: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Passwords:
    """argon2 verification in a pool of its own; an unknown name costs one verification too,
    so failures do not reveal which names exist."""

    def __init__(self, threads: int = 2) -> None:
        self._hasher = PasswordHasher()  # argon2-cffi's defaults, as the service's
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="password")
        self._dummy_hash = self._hasher.hash("dummy password for timing equalisation")

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, password_hash: str | None, password: str) -> bool:
        loop = asyncio.get_running_loop()
        checked = self._dummy_hash if password_hash is None else password_hash
        ok = await loop.run_in_executor(self._pool, self._verify, checked, password)
        return ok and password_hash is not None

    def close(self) -> None:
        self._pool.shutdown()


#: The references' log-ins table, in either database (times as that database keeps them).
SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_logins (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at {time} NOT NULL,
    expires_at {time} NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_bench_logins_user_id ON bench_logins (user_id);
"""

# --- SQLite --------------------------------------------------------------------------------

SQLITE_SCHEMA = SCHEMA.format(time="REAL")  # seconds since the epoch
SQLITE_USER_BY_NAME = "SELECT id, username, password_hash FROM users WHERE username = ?"
SQLITE_USER_FOR_TOKEN = (
    "SELECT users.id, users.username FROM users JOIN bench_logins"
    " ON bench_logins.user_id = users.id"
    " WHERE bench_logins.token_hash = ? AND bench_logins.expires_at > ?"
)
SQLITE_USER_FOR_ACCESS_TOKEN = (
    "SELECT users.id, users.username FROM access_tokens JOIN users"
    " ON users.id = access_tokens.user_id"
    " WHERE access_tokens.token_hash = ? AND users.is_active"
    " AND (access_tokens.expires_at IS NULL OR access_tokens.expires_at > ?)"
)
SQLITE_DELETE_EXPIRED = "DELETE FROM bench_logins WHERE user_id = ? AND expires_at <= ?"
SQLITE_INSERT_LOGIN = "INSERT INTO bench_logins VALUES (?, ?, ?, ?)"


class SQLiteStore:
    """Users and log-ins in the service's SQLite file; every call one hop to a store thread."""

    def __init__(self, url: str = DATABASE_URL, threads: int = 2) -> None:
        if not url.startswith(SQLITE_PREFIX):
            raise SystemExit(f"bench: the SQLite store needs a {SQLITE_PREFIX} URL, not {url!r}")
        self.path = url.removeprefix(SQLITE_PREFIX)
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="store")
        self._passwords = Passwords()
        with sqlite3.connect(self.path) as conn:
            conn.executescript(SQLITE_SCHEMA)
        conn.close()

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

    async def open(self) -> None:
        """Nothing to open: a store thread connects on first use."""

    def _user_for_token(self, token: str) -> User | None:
        query = (hash_token(token), time.time())
        row = self._conn().execute(SQLITE_USER_FOR_TOKEN, query).fetchone()
        return None if row is None else User(*row)

    async def user_for_token(self, token: str) -> User | None:
        """The user logged in with ``token``: one join of users and log-ins, by its hash."""
        return await self._run(self._user_for_token, token)

    def user_for_token_blocking(self, token: str) -> User | None:
        """The same, for sync code (stock Flask's ``user_loader``): waits for a store thread."""
        return self._pool.submit(self._user_for_token, token).result()

    def _user_for_access_token(self, token: str) -> User | None:
        # As SQLAlchemy stores a DateTime in SQLite: text that sorts as the time does.
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        row = self._conn().execute(SQLITE_USER_FOR_ACCESS_TOKEN, (hash_token(token), now))
        found = row.fetchone()
        return None if found is None else User(*found)

    async def user_for_access_token(self, token: str) -> User | None:
        """The user an access token belongs to, if it is live: one join, by the token's hash."""
        return await self._run(self._user_for_access_token, token)

    def user_for_access_token_blocking(self, token: str) -> User | None:
        """The same, for stock Flask's sync ``request_loader``."""
        return self._pool.submit(self._user_for_access_token, token).result()

    async def authenticate(self, username: str, password: str) -> User | None:
        query = (username,)
        row = await self._run(lambda: self._conn().execute(SQLITE_USER_BY_NAME, query).fetchone())
        ok = await self._passwords.verify(None if row is None else row[2], password)
        return User(row[0], row[1]) if ok and row is not None else None

    async def start_login(self, user: User) -> str:
        """Record a log-in of ``user`` (dropping their expired ones); its token."""
        token = secrets.token_urlsafe(32)

        def record() -> None:
            now = time.time()
            login = (hash_token(token), user.id, now, now + LOGIN_LIFETIME)
            with self._conn() as conn:  # one transaction
                conn.execute(SQLITE_DELETE_EXPIRED, (user.id, now))
                conn.execute(SQLITE_INSERT_LOGIN, login)

        await self._run(record)
        return token

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown()
        self._passwords.close()


# --- PostgreSQL ----------------------------------------------------------------------------

POSTGRES_SCHEMA = SCHEMA.format(time="TIMESTAMPTZ")  # as the service's tables keep times
#: Two references starting at once (``--paired``) would race on CREATE TABLE IF NOT EXISTS.
POSTGRES_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('bench_logins'))"
POSTGRES_USER_BY_NAME = "SELECT id, username, password_hash FROM users WHERE username = $1"
POSTGRES_USER_FOR_TOKEN = (
    "SELECT users.id, users.username FROM bench_logins JOIN users"
    " ON users.id = bench_logins.user_id"
    " WHERE bench_logins.token_hash = $1 AND bench_logins.expires_at > $2"
)
POSTGRES_USER_FOR_ACCESS_TOKEN = (
    "SELECT users.id, users.username FROM access_tokens JOIN users"
    " ON users.id = access_tokens.user_id"
    " WHERE access_tokens.token_hash = $1 AND users.is_active"
    " AND (access_tokens.expires_at IS NULL OR access_tokens.expires_at > $2)"
)
POSTGRES_DELETE_EXPIRED = "DELETE FROM bench_logins WHERE user_id = $1 AND expires_at <= $2"
POSTGRES_INSERT_LOGIN = "INSERT INTO bench_logins VALUES ($1, $2, $3, $4)"


class PostgresStore:
    """Users and log-ins in the service's PostgreSQL database, over an asyncpg pool."""

    def __init__(self, url: str = DATABASE_URL) -> None:
        self.url = url
        self.pool_size = int(setting("DATABASE_POOL_SIZE", "10"))
        self.timeout = float(setting("DATABASE_TIMEOUT", "5"))
        self._passwords = Passwords()
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        """Create ``bench_logins`` if missing, and the pool, on the loop that will serve."""
        conn = await asyncpg.connect(self.url, timeout=self.timeout)
        try:
            async with conn.transaction():
                await conn.execute(POSTGRES_SCHEMA_LOCK)
                await conn.execute(POSTGRES_SCHEMA)
        finally:
            await conn.close()
        # min_size=0: connections open as calls need them and stay, as the service's pool.
        self._pool = await asyncpg.create_pool(
            self.url, min_size=0, max_size=self.pool_size, command_timeout=self.timeout
        )

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "the app has not started serving"
        return self._pool

    async def user_for_token(self, token: str) -> User | None:
        """The user logged in with ``token``: one join of users and log-ins, by its hash."""
        now = datetime.now(UTC)
        row = await self.pool.fetchrow(POSTGRES_USER_FOR_TOKEN, hash_token(token), now)
        return None if row is None else User(row["id"], row["username"])

    async def user_for_access_token(self, token: str) -> User | None:
        """The user an access token belongs to, if it is live: one join, by the token's hash."""
        now = datetime.now(UTC)
        row = await self.pool.fetchrow(POSTGRES_USER_FOR_ACCESS_TOKEN, hash_token(token), now)
        return None if row is None else User(row["id"], row["username"])

    async def authenticate(self, username: str, password: str) -> User | None:
        row = await self.pool.fetchrow(POSTGRES_USER_BY_NAME, username)
        ok = await self._passwords.verify(None if row is None else row["password_hash"], password)
        return User(row["id"], row["username"]) if ok and row is not None else None

    async def start_login(self, user: User) -> str:
        """Record a log-in of ``user`` (dropping their expired ones); its token."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=LOGIN_LIFETIME)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(POSTGRES_DELETE_EXPIRED, user.id, now)
            await conn.execute(POSTGRES_INSERT_LOGIN, hash_token(token), user.id, now, expires)
        return token

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        self._passwords.close()


def open_store() -> SQLiteStore | PostgresStore:
    """The store ``MY_SERVICE_DATABASE_URL`` names: a SQLite file or a PostgreSQL database."""
    if DATABASE_URL.startswith(POSTGRES_PREFIXES):
        return PostgresStore()
    return SQLiteStore()
