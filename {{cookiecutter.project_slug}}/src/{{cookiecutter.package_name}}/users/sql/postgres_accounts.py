"""The PostgreSQL store's accounts and access tokens: what an administrator and a token's owner
do. Changing a password, deactivating or deleting a user ends every login and access token of
that user in the same transaction; every instance reads the same database, so the next request
made with any of them, anywhere, is anonymous."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from datetime import datetime
from typing import Any

from ..logins import hash_token, new_access_token
from ..logins import now as utc_now
from ..models import AccessToken, Account
from ..passwords import hash_password

_ACCOUNT = "SELECT id, username, is_active, created_at FROM users"
_ACCOUNT_BY_NAME = f"{_ACCOUNT} WHERE username = $1"
_ACCOUNTS = f"{_ACCOUNT} ORDER BY username"
_SET_PASSWORD_HASH = "UPDATE users SET password_hash = $2 WHERE id = $1"
_SET_ACTIVE = "UPDATE users SET is_active = $2 WHERE id = $1"
_DELETE_USER = "DELETE FROM users WHERE id = $1"
_DELETE_LOGINS_OF = "DELETE FROM logins WHERE user_id = $1"
_DELETE_TOKENS_OF = "DELETE FROM access_tokens WHERE user_id = $1"
_INSERT_TOKEN = (
    "INSERT INTO access_tokens (user_id, token_hash, name, scopes, created_at, expires_at)"
    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
)
_TOKENS_OF = (
    "SELECT id, name, scopes, created_at, expires_at FROM access_tokens"
    " WHERE user_id = $1 ORDER BY id"
)
_DELETE_TOKEN = "DELETE FROM access_tokens WHERE id = $2 AND user_id = $1"


class PostgresAccounts:
    """Mixed into :class:`~.postgres.PostgresUserStore`, whose ``_run`` runs one call."""

    _run: Callable[..., Awaitable[Any]]
    _password_executor: Executor | None

    async def account(self, username: str) -> Account | None:
        row = await self._run(lambda conn: conn.fetchrow(_ACCOUNT_BY_NAME, username))
        return None if row is None else _account(row)

    async def accounts(self) -> list[Account]:
        rows = await self._run(lambda conn: conn.fetch(_ACCOUNTS))
        return [_account(row) for row in rows]

    async def set_password(self, user_id: int, password: str) -> None:
        password_hash = await hash_password(password, self._password_executor)

        async def change(conn: Any) -> None:
            await conn.execute(_SET_PASSWORD_HASH, user_id, password_hash)
            await _end_everything(conn, user_id)

        await self._run(change, transaction=True)

    async def set_active(self, user_id: int, active: bool) -> None:
        async def change(conn: Any) -> None:
            await conn.execute(_SET_ACTIVE, user_id, active)
            if not active:
                await _end_everything(conn, user_id)

        await self._run(change, transaction=True)

    async def delete_user(self, user_id: int) -> None:
        async def delete(conn: Any) -> None:
            await _end_everything(conn, user_id)
            await conn.execute(_DELETE_USER, user_id)

        await self._run(delete, transaction=True)

    async def create_access_token(
        self, user_id: int, name: str, scopes: tuple[str, ...], expires_at: datetime | None
    ) -> tuple[AccessToken, str]:
        secret = new_access_token()
        now = utc_now()
        args = (user_id, hash_token(secret), name, " ".join(scopes), now, expires_at)
        token_id: int = await self._run(lambda conn: conn.fetchval(_INSERT_TOKEN, *args))
        return AccessToken(token_id, name, scopes, now, expires_at), secret

    async def access_tokens(self, user_id: int) -> list[AccessToken]:
        rows = await self._run(lambda conn: conn.fetch(_TOKENS_OF, user_id))
        return [
            AccessToken(
                row["id"], row["name"], tuple(row["scopes"].split()), row["created_at"],
                row["expires_at"],
            )
            for row in rows
        ]  # fmt: skip

    async def revoke_access_token(self, user_id: int, token_id: int) -> bool:
        status: str = await self._run(lambda conn: conn.execute(_DELETE_TOKEN, user_id, token_id))
        return status != "DELETE 0"


async def _end_everything(conn: Any, user_id: int) -> None:
    """End every login and access token of the user, in the caller's transaction."""
    await conn.execute(_DELETE_LOGINS_OF, user_id)
    await conn.execute(_DELETE_TOKENS_OF, user_id)


def _account(row: Any) -> Account:
    return Account(row["id"], row["username"], row["is_active"], row["created_at"])
