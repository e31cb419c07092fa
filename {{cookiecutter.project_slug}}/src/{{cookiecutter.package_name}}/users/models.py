"""Users, logins, and the async interface every user store implements.

Logging in records a *login* in the store: a server-side record with a random token. The web
layer keeps that token (not the user id) in Flask's signed session cookie and the remember-me
cookie, so logging out deletes the login and every copy of those cookies stops working. With
plain Flask-Login a captured cookie would keep authenticating after logout, because signed
cookies cannot be revoked (the "alternative token" remedy in Flask-Login's docs, made per
login).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

USERNAME_MAX_LENGTH = 64
PASSWORD_MAX_LENGTH = 1024
#: An access token's scope: a lowercase word, with ``:``, ``.``, ``_`` or ``-`` inside
#: (``orders:read``).
SCOPE_PATTERN = r"^[a-z][a-z0-9:._-]{0,63}$"


class StoreUnavailable(Exception):
    """The store could not be reached or did not answer in time."""


class UsernameTaken(Exception):
    """A user with that name exists already."""


@dataclass(frozen=True, slots=True)
class User:
    """A user as the rest of the service sees it: no password hash leaves the store."""

    id: int
    username: str


@dataclass(frozen=True, slots=True)
class Account:
    """A user as an administrator sees it."""

    id: int
    username: str
    is_active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An access token as its owner sees it, once made: everything but the secret."""

    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenUser:
    """Whom a live access token authenticates, and what it allows."""

    user: User
    token_id: int
    scopes: frozenset[str]


class UserStore(Protocol):
    """Where users, their logins and their access tokens live. Every method may raise
    StoreUnavailable. An inactive user authenticates with nothing: no password, login or token.
    """

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right, else None, in the same time either way."""

    async def create_user(self, username: str, password: str) -> User:
        """Add a user; raises UsernameTaken if the name exists."""

    async def start_login(self, user: User, lifetime: timedelta) -> str:
        """Record a login for ``user`` and return its secret token."""

    async def user_for_login(self, token: str) -> User | None:
        """The user a live (unexpired, not ended) login token belongs to, else None."""

    async def end_login(self, token: str) -> None:
        """End one login; its cookies stop working."""

    async def account(self, username: str) -> Account | None:
        """The account named ``username``, active or not."""

    async def accounts(self) -> list[Account]:
        """Every account, by name."""

    async def set_password(self, user_id: int, password: str) -> None:
        """Replace the password, and end every login and access token of the user."""

    async def set_active(self, user_id: int, active: bool) -> None:
        """(De)activate the user; deactivating ends every login and access token."""

    async def delete_user(self, user_id: int) -> None:
        """Delete the user, with their logins and access tokens."""

    async def create_access_token(
        self, user_id: int, name: str, scopes: tuple[str, ...], expires_at: datetime | None
    ) -> tuple[AccessToken, str]:
        """Make an access token; returns it and its secret, which the store does not keep."""

    async def access_tokens(self, user_id: int) -> list[AccessToken]:
        """The user's access tokens, expired ones included, without their secrets."""

    async def revoke_access_token(self, user_id: int, token_id: int) -> bool:
        """Delete one of the user's access tokens; False if the user has no such token."""

    async def user_for_access_token(self, token: str) -> TokenUser | None:
        """Whom a live (unexpired, not revoked, active user) access token authenticates."""

    async def ping(self) -> None:
        """Return if the store answers and its schema is in place, else raise."""

    async def close(self) -> None:
        """Release connections."""


def normalize_username(username: str) -> str:
    """NFKC-normalize and strip, so visually identical names are one account (OWASP)."""
    return unicodedata.normalize("NFKC", username).strip()


def validate_username(username: str) -> str | None:
    """A reason the (normalized) username is unacceptable, or None."""
    if not username:
        return "username must not be empty"
    if len(username) > USERNAME_MAX_LENGTH:
        return f"username must be at most {USERNAME_MAX_LENGTH} characters"
    if any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in username):
        return "username must not contain control or separator characters"
    return None
