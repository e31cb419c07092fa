"""The SQL user store: SQLAlchemy 2 Core over SQLite, one thread hop per store call.

Queries use Core rather than the ORM: each method is one or two statements, and Core skips the
unit-of-work bookkeeping that a request path does not need.

SQLite has no network protocol to await: every driver, aiosqlite included, runs its calls in a
thread. aiosqlite makes one thread round trip per DBAPI call, and SQLAlchemy's asyncio
extension makes five or six of them for one query (connect, cursor, execute, fetch, close,
reset), each waking the event loop again. This store instead runs each method's whole unit of
work (checkout, statements, commit) as one call in a small thread pool of its own, with the
stdlib ``sqlite3`` driver: one hop per store call. The pool is the store's own so that password
hashing, tens of milliseconds of CPU per login, cannot hold up the lookups behind every
authenticated request; hashing has a second small pool of its own, which bounds the memory a
burst of logins takes (:mod:`..passwords`).

Login and access-token lookups, one per authenticated request, go further: lookups that arrive
while one is on its way to a store thread share its hop and its query (``batching.py``).
Accounts and access tokens are in ``sqlite_accounts.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import exc

from ..logins import hash_token, new_token
from ..logins import now as utc_now
from ..models import StoreUnavailable, TokenUser, User, UsernameTaken
from ..passwords import hash_password, needs_rehash, verify_password, waste_verification
from . import statements as sql
from .batching import Batcher
from .sqlite_accounts import SQLiteAccounts

T = TypeVar("T")


def _thread_pool(threads: int | None, name: str) -> ThreadPoolExecutor | None:
    return None if threads is None else ThreadPoolExecutor(threads, thread_name_prefix=name)


class SQLUserStore(SQLiteAccounts):
    """:class:`~..models.UserStore` over a SQLAlchemy engine, each call one hop to a thread.

    ``threads`` sizes the store's own thread pool for queries, ``password_threads`` the one
    for password hashes; ``None`` uses the running loop's default executor instead, for
    short-lived stores (the CLI, Flask's test client) that nobody closes.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        threads: int | None = None,
        password_threads: int | None = None,
    ) -> None:
        self.engine = engine
        self._executor = _thread_pool(threads, "user-store")
        self._password_executor = _thread_pool(password_threads, "password-hash")
        self._logins: Batcher[User] = Batcher(self._executor, self._users_for_logins)
        self._tokens: Batcher[TokenUser] = Batcher(self._executor, self._users_for_tokens)

    async def _run(self, work: Callable[[sa.Connection], T], *, write: bool = False) -> T:
        """Run ``work`` on a connection in a store thread: one transaction, one hop.

        The whole unit of work runs in the thread, so a request cancelled meanwhile (its
        client gone) cannot leave a transaction half done: it commits or rolls back there.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._in_thread, work, write)

    def _in_thread(self, work: Callable[[sa.Connection], T], write: bool) -> T:
        """Database failures (file unreadable or not a database, locked too long, schema
        missing, pool empty) become :class:`StoreUnavailable`: 503s, never 500s. A unique
        name taken is the caller's to handle."""
        try:
            with self.engine.begin() if write else self.engine.connect() as conn:
                return work(conn)
        except exc.IntegrityError:
            raise
        except (exc.DBAPIError, exc.TimeoutError, OSError) as error:
            raise StoreUnavailable(str(error).splitlines()[0]) from error

    async def authenticate(self, username: str, password: str) -> User | None:
        params = {"username": username}
        row = await self._run(lambda conn: conn.execute(sql.USER_BY_NAME, params).first())
        if row is None:
            await waste_verification(password, self._password_executor)
            return None
        if not await verify_password(row.password_hash, password, self._password_executor):
            return None
        if not row.is_active:  # checked after the hash: the same answer, in the same time
            return None
        if needs_rehash(row.password_hash):
            new_hash = await hash_password(password, self._password_executor)
            update = {"user_id": row.id, "password_hash": new_hash}
            await self._run(lambda conn: conn.execute(sql.SET_PASSWORD_HASH, update), write=True)
        return User(id=row.id, username=row.username)

    async def create_user(self, username: str, password: str) -> User:
        values = {
            "username": username,
            "password_hash": await hash_password(password, self._password_executor),
            "created_at": utc_now(),
        }
        try:
            user_id: int = await self._run(
                lambda conn: conn.execute(sql.INSERT_USER, values).scalar_one(), write=True
            )
        except exc.IntegrityError as error:
            raise UsernameTaken(username) from error
        return User(id=user_id, username=username)

    async def start_login(self, user: User, lifetime: timedelta) -> str:
        token = new_token()
        now = utc_now()

        def record(conn: sa.Connection) -> None:
            # Expired logins of this user are dead weight; drop them while we are here.
            conn.execute(sql.DELETE_EXPIRED_LOGINS, {"user_id": user.id, "now": now})
            conn.execute(
                sql.INSERT_LOGIN,
                {
                    "token_hash": hash_token(token),
                    "user_id": user.id,
                    "created_at": now,
                    "expires_at": now + lifetime,
                },
            )

        await self._run(record, write=True)
        return token

    async def user_for_login(self, token: str) -> User | None:
        """The user logged in with ``token``; lookups made at once share one query."""
        return await self._logins.lookup(hash_token(token))

    def _users_for_logins(self, hashes: list[str]) -> dict[str, User]:
        """In a store thread: the users behind the live logins among ``hashes``."""

        def query(conn: sa.Connection) -> dict[str, User]:
            found: dict[str, User] = {}
            for chunk in _chunks(hashes):
                params = {"token_hashes": chunk, "now": utc_now()}
                for row in conn.execute(sql.USERS_FOR_LOGINS, params):
                    found[row.token_hash] = User(id=row.id, username=row.username)
            return found

        return self._in_thread(query, False)

    async def user_for_access_token(self, token: str) -> TokenUser | None:
        """Whom ``token`` authenticates; lookups made at once share one query."""
        return await self._tokens.lookup(hash_token(token))

    def _users_for_tokens(self, hashes: list[str]) -> dict[str, TokenUser]:
        """In a store thread: whom the live access tokens among ``hashes`` authenticate."""

        def query(conn: sa.Connection) -> dict[str, TokenUser]:
            found: dict[str, TokenUser] = {}
            for chunk in _chunks(hashes):
                params = {"token_hashes": chunk, "now": utc_now()}
                for row in conn.execute(sql.USERS_FOR_TOKENS, params):
                    user = User(id=row.id, username=row.username)
                    scopes = frozenset(row.scopes.split())
                    found[row.token_hash] = TokenUser(user, row.token_id, scopes)
            return found

        return self._in_thread(query, False)

    async def end_login(self, token: str) -> None:
        params = {"token_hash": hash_token(token)}
        await self._run(lambda conn: conn.execute(sql.DELETE_LOGIN, params), write=True)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute(sql.PING))

    async def close(self) -> None:
        """Wait for calls in flight, then close the connections."""
        for executor in (self._executor, self._password_executor):
            if executor is not None:
                await asyncio.to_thread(executor.shutdown)
        self.engine.dispose()


def _chunks(keys: list[str]) -> list[list[str]]:
    return [
        keys[start : start + sql.LOOKUP_CHUNK] for start in range(0, len(keys), sql.LOOKUP_CHUNK)
    ]
