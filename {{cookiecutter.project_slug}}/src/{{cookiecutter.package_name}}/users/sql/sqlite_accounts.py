"""The SQLite store's accounts and access tokens: what an administrator and a token's owner do.

Changing a password, deactivating or deleting a user ends every login and access token of that
user in the same transaction. Every lookup reads the database, on every worker, so the next
request made with any of them, anywhere, is anonymous.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from ..logins import hash_token, new_access_token, utc
from ..logins import now as utc_now
from ..models import AccessToken, Account
from ..passwords import hash_password
from . import statements as sql

T = TypeVar("T")


class SQLiteAccounts:
    """Mixed into :class:`~.sqlite.SQLUserStore`, whose ``_run`` runs a unit of work."""

    _run: Callable[..., Awaitable[Any]]
    _password_executor: Executor | None

    async def account(self, username: str) -> Account | None:
        params = {"username": username}
        row = await self._run(lambda conn: conn.execute(sql.ACCOUNT_BY_NAME, params).first())
        return None if row is None else _account(row)

    async def accounts(self) -> list[Account]:
        rows = await self._run(lambda conn: conn.execute(sql.ACCOUNTS).all())
        return [_account(row) for row in rows]

    async def set_password(self, user_id: int, password: str) -> None:
        password_hash = await hash_password(password, self._password_executor)

        def change(conn: sa.Connection) -> None:
            params = {"user_id": user_id, "password_hash": password_hash}
            conn.execute(sql.SET_PASSWORD_HASH, params)
            _end_everything(conn, user_id)

        await self._run(change, write=True)

    async def set_active(self, user_id: int, active: bool) -> None:
        def change(conn: sa.Connection) -> None:
            conn.execute(sql.SET_ACTIVE, {"user_id": user_id, "active": active})
            if not active:
                _end_everything(conn, user_id)

        await self._run(change, write=True)

    async def delete_user(self, user_id: int) -> None:
        def delete(conn: sa.Connection) -> None:
            _end_everything(conn, user_id)
            conn.execute(sql.DELETE_USER, {"user_id": user_id})

        await self._run(delete, write=True)

    async def create_access_token(
        self, user_id: int, name: str, scopes: tuple[str, ...], expires_at: datetime | None
    ) -> tuple[AccessToken, str]:
        secret = new_access_token()
        now = utc_now()
        values = {
            "user_id": user_id,
            "token_hash": hash_token(secret),
            "name": name,
            "scopes": " ".join(scopes),
            "created_at": now,
            "expires_at": expires_at,
        }
        token_id: int = await self._run(
            lambda conn: conn.execute(sql.INSERT_TOKEN, values).scalar_one(), write=True
        )
        return AccessToken(token_id, name, scopes, now, expires_at), secret

    async def access_tokens(self, user_id: int) -> list[AccessToken]:
        params = {"user_id": user_id}
        rows = await self._run(lambda conn: conn.execute(sql.TOKENS_OF, params).all())
        return [
            AccessToken(
                row.id,
                row.name,
                tuple(row.scopes.split()),
                utc(row.created_at),
                utc(row.expires_at),
            )
            for row in rows
        ]

    async def revoke_access_token(self, user_id: int, token_id: int) -> bool:
        params = {"user_id": user_id, "token_id": token_id}
        deleted: int = await self._run(
            lambda conn: conn.execute(sql.DELETE_TOKEN, params).rowcount, write=True
        )
        return deleted > 0


def _end_everything(conn: sa.Connection, user_id: int) -> None:
    """End every login and access token of the user, in the caller's transaction."""
    conn.execute(sql.DELETE_LOGINS_OF, {"user_id": user_id})
    conn.execute(sql.DELETE_TOKENS_OF, {"user_id": user_id})


def _account(row: Any) -> Account:
    return Account(row.id, row.username, bool(row.is_active), utc(row.created_at))
