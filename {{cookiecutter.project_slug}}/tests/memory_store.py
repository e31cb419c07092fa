"""Users, logins and access tokens in memory, with the semantics of the database stores: what
the stand-in user service (``user_service.py``) keeps behind its API. Passwords are compared
as given (it is a test double); tokens are kept by their hash, as the real stores keep them."""

from __future__ import annotations

import hmac
import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from {{ cookiecutter.package_name }}.users import AccessToken, Account, TokenUser, User, UsernameTaken
from {{ cookiecutter.package_name }}.users.logins import hash_token, new_access_token, new_token, now

PAST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class _User:
    account: Account
    password: str


@dataclass(frozen=True)
class _Token:
    token: AccessToken
    user_id: int


class MemoryStore:
    """:class:`UserStore` in memory; ``logins`` maps a login token's hash to its user id and
    expiry, so a test can look at, expire or end logins behind the service's back."""

    def __init__(self) -> None:
        self.users: dict[int, _User] = {}
        self.logins: dict[str, tuple[int, datetime]] = {}
        self.tokens: dict[str, _Token] = {}
        self._ids = itertools.count(1)

    def _active(self, user_id: int) -> User | None:
        found = self.users.get(user_id)
        if found is None or not found.account.is_active:
            return None
        return User(found.account.id, found.account.username)

    def _end_everything(self, user_id: int) -> None:
        self.logins = {k: v for k, v in self.logins.items() if v[0] != user_id}
        self.tokens = {k: v for k, v in self.tokens.items() if v.user_id != user_id}

    async def authenticate(self, username: str, password: str) -> User | None:
        for found in self.users.values():
            if found.account.username == username:
                same = hmac.compare_digest(found.password.encode(), password.encode())
                return self._active(found.account.id) if same else None
        return None

    async def create_user(self, username: str, password: str) -> User:
        if await self.account(username) is not None:
            raise UsernameTaken(username)
        account = Account(next(self._ids), username, True, now())
        self.users[account.id] = _User(account, password)
        return User(account.id, username)

    async def start_login(self, user: User, lifetime: timedelta) -> str:
        token = new_token()
        self.logins[hash_token(token)] = (user.id, now() + lifetime)
        return token

    async def user_for_login(self, token: str) -> User | None:
        user_id, expires = self.logins.get(hash_token(token), (0, PAST))
        return self._active(user_id) if expires > now() else None

    async def end_login(self, token: str) -> None:
        self.logins.pop(hash_token(token), None)

    async def account(self, username: str) -> Account | None:
        named = [u.account for u in self.users.values() if u.account.username == username]
        return named[0] if named else None

    async def accounts(self) -> list[Account]:
        return sorted((u.account for u in self.users.values()), key=lambda a: a.username)

    async def set_password(self, user_id: int, password: str) -> None:
        if user_id in self.users:
            self.users[user_id].password = password
        self._end_everything(user_id)

    async def set_active(self, user_id: int, active: bool) -> None:
        if user_id in self.users:
            found = self.users[user_id]
            found.account = replace(found.account, is_active=active)
        if not active:
            self._end_everything(user_id)

    async def delete_user(self, user_id: int) -> None:
        self._end_everything(user_id)
        self.users.pop(user_id, None)

    async def create_access_token(
        self, user_id: int, name: str, scopes: tuple[str, ...], expires_at: datetime | None
    ) -> tuple[AccessToken, str]:
        secret = new_access_token()
        token = AccessToken(next(self._ids), name, scopes, now(), expires_at)
        self.tokens[hash_token(secret)] = _Token(token, user_id)
        return token, secret

    async def access_tokens(self, user_id: int) -> list[AccessToken]:
        mine = [t.token for t in self.tokens.values() if t.user_id == user_id]
        return sorted(mine, key=lambda token: token.id)

    async def revoke_access_token(self, user_id: int, token_id: int) -> bool:
        for key, found in list(self.tokens.items()):
            if found.user_id == user_id and found.token.id == token_id:
                del self.tokens[key]
                return True
        return False

    async def user_for_access_token(self, token: str) -> TokenUser | None:
        found = self.tokens.get(hash_token(token))
        if found is None or (found.token.expires_at or now() + timedelta(1)) <= now():
            return None
        user = self._active(found.user_id)
        scopes = frozenset(found.token.scopes)
        return None if user is None else TokenUser(user, found.token.id, scopes)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
