"""The internal users API: the contract between a service that keeps users (the *provider*,
``web/users_api.py`` in a service whose user store is a database) and services that ask it for
users and logins (the *consumers*, whose store is ``users/http_store.py``).

Every call is JSON over HTTP with ``Authorization: Bearer <token>``. Secrets (passwords and
login tokens) travel in request bodies only, never in URLs, which proxies and access logs keep.
Paths are relative to the provider's base URL:

- ``POST internal/users/authenticate`` ``{username, password}``: 200 ``{"user": User | null}``
- ``POST internal/users`` ``{username, password}``: 201 ``{"user": User}``; 409 name taken
- ``POST internal/logins`` ``{user: User, lifetime_seconds}``: 201 ``{"token": str}``
- ``POST internal/logins/lookup`` ``{token}``: 200 ``{"user": User | null}``
- ``POST internal/logins/end`` ``{token}``: 204
- ``GET internal/ping``: 200 ``{"status": "ok"}`` when the provider's store answers

Accounts and access tokens (what administrators and tokens' owners do):

- ``POST internal/accounts/lookup`` ``{username}``: 200 ``{"account": Account | null}``
- ``GET internal/accounts``: 200 ``{"accounts": [Account, ...]}`` by name
- ``POST internal/users/password`` ``{user_id, password}``: 204; the user's logins and tokens end
- ``POST internal/users/active`` ``{user_id, active}``: 204; deactivating ends them too
- ``POST internal/users/delete`` ``{user_id}``: 204
- ``POST internal/tokens`` ``{user_id, name, scopes, expires_at}``: 201 ``{"token", "secret"}``
- ``POST internal/tokens/list`` ``{user_id}``: 200 ``{"tokens": [AccessToken, ...]}``
- ``POST internal/tokens/revoke`` ``{user_id, token_id}``: 200 ``{"revoked": bool}``
- ``POST internal/tokens/lookup`` ``{token}``: 200 ``{"found": {user, token_id, scopes} | null}``

``User`` is ``{"id": int, "username": str}``: never a password hash. ``Account`` adds
``is_active`` and ``created_at``; ``AccessToken`` is ``{id, name, scopes, created_at,
expires_at}``, never its secret; times are ISO 8601 with a timezone. Any call may also answer
401 (wrong token), 404 (the API is off), 422 (a body that breaks this contract) and 503 (the
provider's own store is unavailable), each with the service's JSON error body.

Both sides validate with the models below in strict mode (no ``"1"`` for ``1``); fields a newer
version adds are ignored, so a provider can grow its answers without breaking its consumers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .models import (
    PASSWORD_MAX_LENGTH,
    SCOPE_PATTERN,
    USERNAME_MAX_LENGTH,
    AccessToken,
    Account,
    TokenUser,
    User,
)

AUTHENTICATE = "internal/users/authenticate"
CREATE_USER = "internal/users"
START_LOGIN = "internal/logins"
LOOKUP_LOGIN = "internal/logins/lookup"
END_LOGIN = "internal/logins/end"
PING = "internal/ping"
ACCOUNT = "internal/accounts/lookup"
ACCOUNTS = "internal/accounts"
SET_PASSWORD = "internal/users/password"  # noqa: S105 - a path, not a password
SET_ACTIVE = "internal/users/active"
DELETE_USER = "internal/users/delete"
CREATE_TOKEN = "internal/tokens"  # noqa: S105 - a path
LIST_TOKENS = "internal/tokens/list"
REVOKE_TOKEN = "internal/tokens/revoke"  # noqa: S105 - a path
LOOKUP_TOKEN = "internal/tokens/lookup"  # noqa: S105 - a path

#: Longest login a consumer may ask for: ten years, far past any sane remember-me lifetime,
#: and far from the dates a store's clock arithmetic cannot represent.
MAX_LOGIN_SECONDS = 10 * 366 * 24 * 3600
#: Bounds on a login token on the wire; the stores make 43-character ones.
MIN_TOKEN_LENGTH, MAX_TOKEN_LENGTH = 16, 512


Username = Annotated[str, StringConstraints(min_length=1, max_length=USERNAME_MAX_LENGTH)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
Scope = Annotated[str, StringConstraints(pattern=SCOPE_PATTERN)]
TokenName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Message(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class UserBody(Message):
    id: int
    username: Username

    @classmethod
    def of(cls, user: User) -> UserBody:
        return cls(id=user.id, username=user.username)

    def to_user(self) -> User:
        return User(id=self.id, username=self.username)


class AccountBody(Message):
    id: int
    username: Username
    is_active: bool
    created_at: AwareDatetime

    @classmethod
    def of(cls, account: Account) -> AccountBody:
        return cls(
            id=account.id,
            username=account.username,
            is_active=account.is_active,
            created_at=account.created_at,
        )

    def to_account(self) -> Account:
        return Account(self.id, self.username, self.is_active, self.created_at)


class AccessTokenBody(Message):
    id: int
    name: TokenName
    scopes: tuple[Scope, ...]
    created_at: AwareDatetime
    expires_at: AwareDatetime | None

    @classmethod
    def of(cls, token: AccessToken) -> AccessTokenBody:
        return cls(
            id=token.id,
            name=token.name,
            scopes=token.scopes,
            created_at=token.created_at,
            expires_at=token.expires_at,
        )

    def to_token(self) -> AccessToken:
        return AccessToken(self.id, self.name, self.scopes, self.created_at, self.expires_at)


class TokenUserBody(Message):
    user: UserBody
    token_id: int
    scopes: tuple[Scope, ...]

    @classmethod
    def of(cls, found: TokenUser) -> TokenUserBody:
        user = UserBody.of(found.user)
        return cls(user=user, token_id=found.token_id, scopes=tuple(sorted(found.scopes)))

    def to_token_user(self) -> TokenUser:
        return TokenUser(self.user.to_user(), self.token_id, frozenset(self.scopes))


# Requests, as the provider validates them.


class Credentials(Message):
    username: Username
    password: Password


class AccountName(Message):
    username: Username


class UserId(Message):
    user_id: int


class NewPassword(Message):
    user_id: int
    password: Password


class Activity(Message):
    user_id: int
    active: bool


class NewToken(Message):
    user_id: int
    name: TokenName
    scopes: tuple[Scope, ...]
    expires_at: AwareDatetime | None


class TokenRef(Message):
    user_id: int
    token_id: int


class StartLogin(Message):
    user: UserBody
    lifetime_seconds: float = Field(gt=0, le=MAX_LOGIN_SECONDS)


class LoginToken(Message):
    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)


# Answers, as the consumer validates them.


class MaybeUser(Message):
    user: UserBody | None


class CreatedUser(Message):
    user: UserBody


class StartedLogin(Message):
    token: str = Field(min_length=MIN_TOKEN_LENGTH, max_length=MAX_TOKEN_LENGTH)


class Pong(Message):
    status: Literal["ok"]


class MaybeAccount(Message):
    account: AccountBody | None


class AccountList(Message):
    accounts: list[AccountBody]


class CreatedToken(Message):
    token: AccessTokenBody
    secret: str = Field(min_length=MIN_TOKEN_LENGTH, max_length=MAX_TOKEN_LENGTH)


class TokenList(Message):
    tokens: list[AccessTokenBody]


class Revoked(Message):
    revoked: bool


class MaybeTokenUser(Message):
    found: TokenUserBody | None
