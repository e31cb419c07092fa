"""The PostgreSQL user store: asyncpg, awaited on the event loop that serves the request.

PostgreSQL speaks a network protocol, so unlike SQLite nothing here needs a thread: each call
borrows a connection from a pool that lives on the worker's loop, sends one query (or one
transaction), and gives the connection back. asyncpg is used directly, not through SQLAlchemy's
async engine, which adds a greenlet hand-off and statement compilation to every call: the login
lookup behind every authenticated request costs far less CPU this way. The tables and the Alembic
migrations are the same as SQLite's (``tables.py``, ``migrations/``); :func:`migrate_with` runs
Alembic over the same driver.

Every call has one deadline, ``timeout`` seconds, covering the wait for a pooled connection,
opening one, and the query. Whatever goes wrong (the server down or slow, the pool exhausted, a
connection lost, the schema missing) is :class:`~..models.StoreUnavailable`, a 503 for the
client; a broken connection is dropped by the pool and the next call opens a new one, so the
store recovers by itself when the database is back. Accounts and access tokens are in
``postgres_accounts.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import asyncpg
from alembic.config import Config
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ..logins import hash_token, new_token
from ..logins import now as utc_now
from ..models import StoreUnavailable, TokenUser, User, UsernameTaken
from ..passwords import hash_password, needs_rehash, verify_password, waste_verification
from .batching import LoopBatcher
from .postgres_accounts import PostgresAccounts

T = TypeVar("T")

_USER_BY_NAME = "SELECT id, username, password_hash, is_active FROM users WHERE username = $1"
_SET_PASSWORD_HASH = "UPDATE users SET password_hash = $2 WHERE id = $1"
_INSERT_USER = (
    "INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id"
)
_DELETE_EXPIRED_LOGINS = "DELETE FROM logins WHERE user_id = $1 AND expires_at <= $2"
_INSERT_LOGIN = (
    "INSERT INTO logins (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)"
)
_USERS_FOR_LOGINS = (
    "SELECT logins.token_hash, users.id, users.username"
    " FROM logins JOIN users ON users.id = logins.user_id"
    " WHERE logins.token_hash = ANY($1::text[]) AND logins.expires_at > $2 AND users.is_active"
)
_USERS_FOR_TOKENS = (
    "SELECT access_tokens.token_hash, access_tokens.id AS token_id, access_tokens.scopes,"
    " users.id, users.username"
    " FROM access_tokens JOIN users ON users.id = access_tokens.user_id"
    " WHERE access_tokens.token_hash = ANY($1::text[]) AND users.is_active"
    " AND (access_tokens.expires_at IS NULL OR access_tokens.expires_at > $2)"
)
_DELETE_LOGIN = "DELETE FROM logins WHERE token_hash = $1"
_PING = "SELECT 1 FROM users LIMIT 1"

#: What a store call does with its connection (pooled, or its own).
Conn = asyncpg.Connection | PoolConnectionProxy
Work = Callable[[Conn], Awaitable[T]]


class PostgresUserStore(PostgresAccounts):
    """:class:`~..models.UserStore` over PostgreSQL; see the module docstring.

    ``pool_size`` connections are kept for the worker's loop, made on first use; ``None``
    opens a connection per call instead, for short-lived stores (the CLI, Flask's test client)
    that nobody closes. ``password_threads`` sizes the pool that hashes passwords; ``None``
    uses the loop's default executor.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int | None,
        timeout: float,
        password_threads: int | None = None,
    ) -> None:
        self.url = url
        self._pool_size = pool_size
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._pool_lock: asyncio.Lock | None = None
        self._password_executor = (
            None
            if password_threads is None
            else ThreadPoolExecutor(password_threads, thread_name_prefix="password-hash")
        )
        self._logins: LoopBatcher[User] = LoopBatcher(self._users_for_logins)
        self._tokens: LoopBatcher[TokenUser] = LoopBatcher(self._users_for_tokens)

    async def _run(self, work: Work[T], *, transaction: bool = False) -> T:
        """``work`` on a connection, within the deadline; any failure is StoreUnavailable."""
        try:
            return await self._on_a_connection(work, transaction)
        except TimeoutError:
            raise StoreUnavailable(f"no answer from PostgreSQL within {self._timeout}s") from None
        except asyncpg.UniqueViolationError:
            raise
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise StoreUnavailable(reason) from error

    async def _on_a_connection(self, work: Work[T], transaction: bool) -> T:
        pool: asyncpg.Pool | None = None
        pooled: PoolConnectionProxy | None = None
        own: asyncpg.Connection | None = None
        try:
            async with asyncio.timeout(self._timeout):
                if self._pool_size is None:
                    own = await asyncpg.connect(self.url)
                    return await _in_transaction(own, work, transaction)
                pool = await self._get_pool(self._pool_size)
                pooled = await pool.acquire()
                return await _in_transaction(pooled, work, transaction)
        except BaseException as error:
            # Timed out, cancelled or cut off mid-call, a connection is in an unknown state:
            # drop it at once. Closing it politely would wait on the server that just failed.
            if not isinstance(error, asyncpg.PostgresError):
                for conn in (own, pooled):
                    if conn is not None:
                        conn.terminate()
            raise
        finally:
            if pool is not None and pooled is not None:
                await pool.release(pooled)
            if own is not None and not own.is_closed():
                await own.close()

    async def _get_pool(self, size: int) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        self._pool_lock = self._pool_lock or asyncio.Lock()
        async with self._pool_lock:
            if self._pool is None:
                # min_size=0: no connection until a call needs one, so a worker starts (and
                # answers /healthz) while the database is away.
                self._pool = await asyncpg.create_pool(
                    self.url, min_size=0, max_size=size, timeout=self._timeout, reset=_keep
                )
        return self._pool

    async def authenticate(self, username: str, password: str) -> User | None:
        row = await self._run(lambda conn: conn.fetchrow(_USER_BY_NAME, username))
        if row is None:
            await waste_verification(password, self._password_executor)
            return None
        if not await verify_password(row["password_hash"], password, self._password_executor):
            return None
        if not row["is_active"]:  # checked after the hash: the same answer, in the same time
            return None
        if needs_rehash(row["password_hash"]):
            new_hash = await hash_password(password, self._password_executor)
            await self._run(lambda conn: conn.execute(_SET_PASSWORD_HASH, row["id"], new_hash))
        return User(id=row["id"], username=row["username"])

    async def create_user(self, username: str, password: str) -> User:
        password_hash = await hash_password(password, self._password_executor)
        try:
            user_id: int = await self._run(
                lambda conn: conn.fetchval(_INSERT_USER, username, password_hash, utc_now())
            )
        except asyncpg.UniqueViolationError as error:
            raise UsernameTaken(username) from error
        return User(id=user_id, username=username)

    async def start_login(self, user: User, lifetime: timedelta) -> str:
        token = new_token()
        now = utc_now()

        async def record(conn: Conn) -> None:
            # Expired logins of this user are dead weight; drop them while we are here.
            await conn.execute(_DELETE_EXPIRED_LOGINS, user.id, now)
            await conn.execute(_INSERT_LOGIN, hash_token(token), user.id, now, now + lifetime)

        await self._run(record, transaction=True)
        return token

    async def user_for_login(self, token: str) -> User | None:
        """The user logged in with ``token``; lookups made in one pass share one query."""
        return await self._logins.lookup(hash_token(token))

    async def _users_for_logins(self, hashes: list[str]) -> dict[str, User]:
        rows = await self._run(lambda conn: conn.fetch(_USERS_FOR_LOGINS, hashes, utc_now()))
        return {row["token_hash"]: User(id=row["id"], username=row["username"]) for row in rows}

    async def user_for_access_token(self, token: str) -> TokenUser | None:
        """Whom ``token`` authenticates; lookups made in one pass share one query."""
        return await self._tokens.lookup(hash_token(token))

    async def _users_for_tokens(self, hashes: list[str]) -> dict[str, TokenUser]:
        rows = await self._run(lambda conn: conn.fetch(_USERS_FOR_TOKENS, hashes, utc_now()))
        return {
            row["token_hash"]: TokenUser(
                User(id=row["id"], username=row["username"]),
                row["token_id"],
                frozenset(row["scopes"].split()),
            )
            for row in rows
        }

    async def end_login(self, token: str) -> None:
        await self._run(lambda conn: conn.execute(_DELETE_LOGIN, hash_token(token)))

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute(_PING))

    async def close(self) -> None:
        """Close the pool's connections (waiting for calls in flight) and the hash threads."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._password_executor is not None:
            await asyncio.to_thread(self._password_executor.shutdown)


async def _keep(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection handed back: nothing.

    asyncpg's default resets every connection on release, a second round trip per call. This
    store leaves nothing behind to reset: it sets no session settings, keeps no cursors, takes
    no advisory locks and listens to nothing, and asyncpg still rolls back a transaction left
    open (a call cut off mid-way).
    """


async def _in_transaction(conn: Conn, work: Work[T], transaction: bool) -> T:
    if not transaction:
        return await work(conn)
    async with conn.transaction():
        return await work(conn)


async def migrate_with(url: str, config: Config, action: Callable[[Config], object]) -> None:
    """Run the Alembic ``action`` over asyncpg: Alembic gets the sync face of one connection.

    Alembic is synchronous; SQLAlchemy's async engine runs it in a greenlet of its own
    (``run_sync``) and awaits the driver on the loop for it. ``migrations/env.py`` takes the
    connection from ``config.attributes``.
    """
    engine = create_async_engine(
        url.replace("postgresql://", "postgresql+asyncpg://", 1), poolclass=NullPool
    )

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        action(config)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()
