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

Login lookups, one per authenticated request, go further: lookups that arrive while one is on
its way to a store thread share its hop and its query (:meth:`SQLUserStore.user_for_login`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import secrets
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc

from ..models import StoreUnavailable, User, UsernameTaken
from ..passwords import hash_password, needs_rehash, verify_password, waste_verification
from .tables import logins, users

T = TypeVar("T")

# The statements, built once with bound parameters. SQLAlchemy caches compiled SQL by a
# statement's structure, but building a select and computing that cache key costs more than
# running the login lookup itself on SQLite; a prebuilt statement skips both.
_USER_BY_NAME = sa.select(users.c.id, users.c.username, users.c.password_hash).where(
    users.c.username == sa.bindparam("username")
)
_SET_PASSWORD_HASH = (
    sa.update(users)
    .where(users.c.id == sa.bindparam("user_id"))
    .values(password_hash=sa.bindparam("password_hash"))
)
_INSERT_USER = sa.insert(users).returning(users.c.id)
_DELETE_EXPIRED_LOGINS = sa.delete(logins).where(
    logins.c.user_id == sa.bindparam("user_id"),
    logins.c.expires_at <= sa.bindparam("now"),
)
_INSERT_LOGIN = sa.insert(logins)
_USERS_FOR_LOGINS = (
    sa.select(logins.c.token_hash, users.c.id, users.c.username)
    .join(logins, logins.c.user_id == users.c.id)
    .where(logins.c.token_hash.in_(sa.bindparam("token_hashes", expanding=True)))
    .where(logins.c.expires_at > sa.bindparam("now"))
)
#: Tokens per query in a batch of login lookups: far below SQLite's (32 766) and
#: PostgreSQL's (65 535) limits on bound parameters.
_LOOKUP_CHUNK = 500
_DELETE_LOGIN = sa.delete(logins).where(logins.c.token_hash == sa.bindparam("token_hash"))
_PING = sa.select(users.c.id).limit(1)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class _Lookup(NamedTuple):
    token_hash: str
    future: asyncio.Future[User | None]


def _users_for_logins(conn: sa.Connection, hashes: list[str]) -> dict[str, User]:
    """The users behind the live logins among ``hashes``, by token hash."""
    now = _now()
    found: dict[str, User] = {}
    for start in range(0, len(hashes), _LOOKUP_CHUNK):
        params = {"token_hashes": hashes[start : start + _LOOKUP_CHUNK], "now": now}
        for row in conn.execute(_USERS_FOR_LOGINS, params):
            found[row.token_hash] = User(id=row.id, username=row.username)
    return found


def _settle(lookups: Iterable[_Lookup], found: dict[str, User], error: Exception | None) -> None:
    """On the lookups' loop: hand each waiting request its answer."""
    for lookup in lookups:
        if lookup.future.done():  # its request was cancelled meanwhile
            continue
        if error is None:
            lookup.future.set_result(found.get(lookup.token_hash))
        else:
            # One exception object per request, so their tracebacks do not pile up on one.
            own = copy.copy(error)
            own.__cause__, own.__suppress_context__ = error.__cause__, True
            lookup.future.set_exception(own)


def _thread_pool(threads: int | None, name: str) -> ThreadPoolExecutor | None:
    return None if threads is None else ThreadPoolExecutor(threads, thread_name_prefix=name)


class SQLUserStore:
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
        # Login lookups waiting for a store thread, and whether a job to answer them is
        # already queued. The loop adds to the list, a store thread empties it: hence the lock.
        self._lookups: list[_Lookup] = []
        self._lookups_lock = threading.Lock()
        self._lookup_job_queued = False

    async def _run(self, work: Callable[[sa.Connection], T], *, write: bool = False) -> T:
        """Run ``work`` on a connection in a store thread: one transaction, one hop.

        The whole unit of work runs in the thread, so a request cancelled meanwhile (its
        client gone) cannot leave a transaction half done: it commits or rolls back there.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._in_thread, work, write)

    def _in_thread(self, work: Callable[[sa.Connection], T], write: bool) -> T:
        """Database failures (file unreadable, locked too long, pool empty) become 503s."""
        try:
            with self.engine.begin() if write else self.engine.connect() as conn:
                return work(conn)
        except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError) as error:
            raise StoreUnavailable(str(error).splitlines()[0]) from error

    async def authenticate(self, username: str, password: str) -> User | None:
        params = {"username": username}
        row = await self._run(lambda conn: conn.execute(_USER_BY_NAME, params).first())
        if row is None:
            await waste_verification(password, self._password_executor)
            return None
        if not await verify_password(row.password_hash, password, self._password_executor):
            return None
        if needs_rehash(row.password_hash):
            new_hash = await hash_password(password, self._password_executor)
            update = {"user_id": row.id, "password_hash": new_hash}
            await self._run(lambda conn: conn.execute(_SET_PASSWORD_HASH, update), write=True)
        return User(id=row.id, username=row.username)

    async def create_user(self, username: str, password: str) -> User:
        values = {
            "username": username,
            "password_hash": await hash_password(password, self._password_executor),
            "created_at": _now(),
        }
        try:
            user_id: int = await self._run(
                lambda conn: conn.execute(_INSERT_USER, values).scalar_one(), write=True
            )
        except exc.IntegrityError as error:
            raise UsernameTaken(username) from error
        return User(id=user_id, username=username)

    async def start_login(self, user: User, lifetime: timedelta) -> str:
        token = secrets.token_urlsafe(32)
        now = _now()

        def record(conn: sa.Connection) -> None:
            # Expired logins of this user are dead weight; drop them while we are here.
            conn.execute(_DELETE_EXPIRED_LOGINS, {"user_id": user.id, "now": now})
            conn.execute(
                _INSERT_LOGIN,
                {
                    "token_hash": _hash_token(token),
                    "user_id": user.id,
                    "created_at": now,
                    "expires_at": now + lifetime,
                },
            )

        await self._run(record, write=True)
        return token

    async def user_for_login(self, token: str) -> User | None:
        """The user logged in with ``token``; lookups made at the same time share one query.

        Every authenticated request makes this call. Made alone, each would be a hop to a store
        thread and back, and under load the hops (a thread woken, the GIL handed over and back,
        the event loop woken) cost more than the query itself. So the first lookup queues a
        job, and every lookup made before a store thread starts that job joins it: one query,
        and one wake-up per waiting event loop, answer them all. A lone lookup costs one hop,
        as before; many concurrent requests share a few.
        """
        loop = asyncio.get_running_loop()
        lookup = _Lookup(_hash_token(token), loop.create_future())
        with self._lookups_lock:
            self._lookups.append(lookup)
            queue_job, self._lookup_job_queued = not self._lookup_job_queued, True
        if queue_job:
            try:
                loop.run_in_executor(self._executor, self._answer_lookups)
            except RuntimeError:  # the pool is shut down: the store is closing
                self._answer_lookups(closed=True)
        return await lookup.future

    def _answer_lookups(self, *, closed: bool = False) -> None:
        """In a store thread: answer every login lookup queued so far, with one query."""
        with self._lookups_lock:
            lookups, self._lookups = self._lookups, []
            self._lookup_job_queued = False
        found: dict[str, User] = {}
        error: Exception | None = StoreUnavailable("the user store is closed") if closed else None
        if error is None:
            hashes = sorted({lookup.token_hash for lookup in lookups})
            try:
                found = self._in_thread(lambda conn: _users_for_logins(conn, hashes), False)
            except Exception as failure:  # StoreUnavailable, or a bug: each waiter raises it
                error = failure
        by_loop: dict[asyncio.AbstractEventLoop, list[_Lookup]] = {}
        for lookup in lookups:
            by_loop.setdefault(lookup.future.get_loop(), []).append(lookup)
        for loop, waiting in by_loop.items():
            # A closed loop (RuntimeError) has nobody waiting on it any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, waiting, found, error)

    async def end_login(self, token: str) -> None:
        params = {"token_hash": _hash_token(token)}
        await self._run(lambda conn: conn.execute(_DELETE_LOGIN, params), write=True)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute(_PING))

    async def close(self) -> None:
        """Wait for calls in flight, then close the connections."""
        for executor in (self._executor, self._password_executor):
            if executor is not None:
                await asyncio.to_thread(executor.shutdown)
        self.engine.dispose()
