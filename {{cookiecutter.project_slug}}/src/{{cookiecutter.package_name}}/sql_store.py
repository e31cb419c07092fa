"""The SQL user store: SQLAlchemy 2 async Core over any database SQLAlchemy supports.

The tables are declared once here, for the queries and for Alembic (``migrations/``). Queries
use Core rather than ORM sessions: each method is one or two statements, and Core skips the
unit-of-work bookkeeping that a request path does not need.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from .passwords import hash_password, needs_rehash, verify_password, waste_verification
from .settings import Settings, sqlite_path
from .users import StoreUnavailable, User, UsernameTaken

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

login_sessions = sa.Table(
    "login_sessions",
    metadata,
    # SHA-256 of the token: a leaked database does not hand out live sessions.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """The async engine; unpooled outside a server, so no connection outlives its call."""
    path = sqlite_path(settings.database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"pool_timeout": settings.database_timeout} if pooled else {}
    engine = create_async_engine(
        settings.database_url, poolclass=None if pooled else NullPool, **options
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer work at once; busy_timeout waits instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class SQLUserStore:
    """:class:`~.users.UserStore` over any SQLAlchemy async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def _connect(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection (in a transaction when ``write``); database failures become 503s."""
        try:
            if write:
                async with self.engine.begin() as conn:
                    yield conn
            else:
                async with self.engine.connect() as conn:
                    yield conn
        except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError) as error:
            raise StoreUnavailable(str(error).splitlines()[0]) from error

    async def authenticate(self, username: str, password: str) -> User | None:
        query = sa.select(users.c.id, users.c.username, users.c.password_hash).where(
            users.c.username == username
        )
        async with self._connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            await waste_verification(password)
            return None
        if not await verify_password(row.password_hash, password):
            return None
        if needs_rehash(row.password_hash):
            new_hash = await hash_password(password)
            async with self._connect(write=True) as conn:
                await conn.execute(
                    sa.update(users).where(users.c.id == row.id).values(password_hash=new_hash)
                )
        return User(id=row.id, username=row.username)

    async def create_user(self, username: str, password: str) -> User:
        password_hash = await hash_password(password)
        try:
            async with self._connect(write=True) as conn:
                result = await conn.execute(
                    sa.insert(users)
                    .values(username=username, password_hash=password_hash, created_at=_now())
                    .returning(users.c.id)
                )
                user_id = result.scalar_one()
        except exc.IntegrityError as error:
            raise UsernameTaken(username) from error
        return User(id=user_id, username=username)

    async def start_session(self, user: User, lifetime: timedelta) -> str:
        token = secrets.token_urlsafe(32)
        now = _now()
        async with self._connect(write=True) as conn:
            # Expired logins of this user are dead weight; drop them while we are here.
            await conn.execute(
                sa.delete(login_sessions).where(
                    login_sessions.c.user_id == user.id, login_sessions.c.expires_at <= now
                )
            )
            await conn.execute(
                sa.insert(login_sessions).values(
                    token_hash=_hash_token(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return token

    async def user_for_session(self, token: str) -> User | None:
        query = (
            sa.select(users.c.id, users.c.username)
            .join(login_sessions, login_sessions.c.user_id == users.c.id)
            .where(login_sessions.c.token_hash == _hash_token(token))
            .where(login_sessions.c.expires_at > _now())
        )
        async with self._connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else User(id=row.id, username=row.username)

    async def end_session(self, token: str) -> None:
        async with self._connect(write=True) as conn:
            await conn.execute(
                sa.delete(login_sessions).where(login_sessions.c.token_hash == _hash_token(token))
            )

    async def ping(self) -> None:
        async with self._connect() as conn:
            await conn.execute(sa.select(users.c.id).limit(1))

    async def close(self) -> None:
        await self.engine.dispose()
