"""The HTTP user store: users and logins live in another service, asked over the shared client.

The other service (the *user service*) answers the internal users API (:mod:`.api`): any
service made from this template with a database store and ``USERS_API_TOKEN`` set does. This
store keeps nothing itself: no users, no password hashes, and no cache of either, so a login
ended at the user service (here or by any other of its consumers) stops working here at once.

It fails closed. Whatever goes wrong with a call (the user service down, slow, answering an
error, or answering anything but the contract's JSON) raises :class:`StoreUnavailable` with a
one-line reason: the web layer answers 503, never 500, never an anonymous or cached user, and a
login that could not be checked never counts as a failed password. Each call:

- has a total deadline (``timeout``): retries, connecting and reading the answer included;
- opens connections within ``connect_timeout``;
- is retried, up to ``retries`` times after short pauses, only when the transport reports a
  connection failure and only if repeating it is harmless: reads (a password check, a lookup,
  a list, the ping), ending a login, and account changes that set a state (a password, active
  or not, deleted). Creating a user, a login or an access token, and revoking a token, are
  never sent twice: a second one might create another, or answer "no such token" for the one
  the first attempt revoked.

The client is the worker's shared ``httpx.AsyncClient`` (``clients/http.py``): this store uses
its pool and does not close it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TypeVar

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from . import api
from .models import AccessToken, Account, StoreUnavailable, TokenUser, User, UsernameTaken

log = structlog.get_logger(__name__)

A = TypeVar("A", bound=BaseModel)

#: Pauses before the first, second, ... retry, in seconds; the last one repeats.
RETRY_PAUSES = (0.05, 0.2, 0.5)
#: Errors that mean the call never reached the user service (with httpx-aiohttp, also a
#: connection the server closed without answering): the only ones worth a retry.
CONNECTION_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
_JSON = {"Content-Type": "application/json"}


class HTTPUserStore:
    """:class:`~.models.UserStore` over the internal users API of ``base_url``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        token: str,
        timeout: float,
        connect_timeout: float,
        retries: int,
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/") + "/"
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._deadline = timeout
        # Per attempt; the deadline above bounds them all together.
        self._timeout = httpx.Timeout(timeout, connect=min(connect_timeout, timeout))
        self._retries = retries

    async def authenticate(self, username: str, password: str) -> User | None:
        body = api.Credentials(username=username, password=password)
        reply = await self._call(api.AUTHENTICATE, body, idempotent=True)
        return _user_or_none(_answer(api.AUTHENTICATE, reply, 200, api.MaybeUser))

    async def create_user(self, username: str, password: str) -> User:
        body = api.Credentials(username=username, password=password)
        reply = await self._call(api.CREATE_USER, body, idempotent=False)
        if reply.status_code == 409:
            raise UsernameTaken(username)
        return _answer(api.CREATE_USER, reply, 201, api.CreatedUser).user.to_user()

    async def start_login(self, user: User, lifetime: timedelta) -> str:
        body = api.StartLogin(user=api.UserBody.of(user), lifetime_seconds=lifetime.total_seconds())
        reply = await self._call(api.START_LOGIN, body, idempotent=False)
        return _answer(api.START_LOGIN, reply, 201, api.StartedLogin).token

    async def user_for_login(self, token: str) -> User | None:
        reply = await self._call(api.LOOKUP_LOGIN, api.LoginToken(token=token), idempotent=True)
        return _user_or_none(_answer(api.LOOKUP_LOGIN, reply, 200, api.MaybeUser))

    async def end_login(self, token: str) -> None:
        await self._no_content(api.END_LOGIN, api.LoginToken(token=token))

    async def ping(self) -> None:
        reply = await self._call(api.PING, None, idempotent=True)
        _answer(api.PING, reply, 200, api.Pong)

    async def account(self, username: str) -> Account | None:
        reply = await self._call(api.ACCOUNT, api.AccountName(username=username), idempotent=True)
        found = _answer(api.ACCOUNT, reply, 200, api.MaybeAccount).account
        return None if found is None else found.to_account()

    async def accounts(self) -> list[Account]:
        reply = await self._call(api.ACCOUNTS, None, idempotent=True)
        listed = _answer(api.ACCOUNTS, reply, 200, api.AccountList).accounts
        return [account.to_account() for account in listed]

    async def set_password(self, user_id: int, password: str) -> None:
        body = api.NewPassword(user_id=user_id, password=password)
        await self._no_content(api.SET_PASSWORD, body)

    async def set_active(self, user_id: int, active: bool) -> None:
        await self._no_content(api.SET_ACTIVE, api.Activity(user_id=user_id, active=active))

    async def delete_user(self, user_id: int) -> None:
        await self._no_content(api.DELETE_USER, api.UserId(user_id=user_id))

    async def create_access_token(
        self, user_id: int, name: str, scopes: tuple[str, ...], expires_at: datetime | None
    ) -> tuple[AccessToken, str]:
        body = api.NewToken(user_id=user_id, name=name, scopes=scopes, expires_at=expires_at)
        reply = await self._call(api.CREATE_TOKEN, body, idempotent=False)
        created = _answer(api.CREATE_TOKEN, reply, 201, api.CreatedToken)
        return created.token.to_token(), created.secret

    async def access_tokens(self, user_id: int) -> list[AccessToken]:
        reply = await self._call(api.LIST_TOKENS, api.UserId(user_id=user_id), idempotent=True)
        return [
            token.to_token() for token in _answer(api.LIST_TOKENS, reply, 200, api.TokenList).tokens
        ]

    async def revoke_access_token(self, user_id: int, token_id: int) -> bool:
        body = api.TokenRef(user_id=user_id, token_id=token_id)
        reply = await self._call(api.REVOKE_TOKEN, body, idempotent=False)
        return _answer(api.REVOKE_TOKEN, reply, 200, api.Revoked).revoked

    async def user_for_access_token(self, token: str) -> TokenUser | None:
        reply = await self._call(api.LOOKUP_TOKEN, api.LoginToken(token=token), idempotent=True)
        found = _answer(api.LOOKUP_TOKEN, reply, 200, api.MaybeTokenUser).found
        return None if found is None else found.to_token_user()

    async def close(self) -> None:
        """Nothing to release: the shared client belongs to the worker's resources."""

    async def _no_content(self, path: str, body: BaseModel) -> None:
        """A call that sets a state (safe to repeat) and answers 204."""
        _expect_status(path, await self._call(path, body, idempotent=True), 204)

    async def _call(self, path: str, body: BaseModel | None, *, idempotent: bool) -> httpx.Response:
        """Send one call within the deadline and return the answer, whatever its status."""
        try:
            async with asyncio.timeout(self._deadline):
                return await self._attempts(path, body, idempotent)
        except TimeoutError:
            raise _unavailable(path, f"no answer within {self._deadline:g} s") from None

    async def _attempts(
        self, path: str, body: BaseModel | None, idempotent: bool
    ) -> httpx.Response:
        content = None if body is None else body.model_dump_json().encode()
        headers = self._headers if content is None else {**self._headers, **_JSON}
        method, url = "GET" if body is None else "POST", self._base_url + path
        attempt = 0
        while True:
            try:
                return await self._client.request(
                    method, url, content=content, headers=headers, timeout=self._timeout
                )
            except CONNECTION_ERRORS as error:
                if not idempotent or attempt >= self._retries:
                    raise _unavailable(path, _reason(error)) from error
                log.info("user service: retrying", call=path, error=_reason(error))
                await asyncio.sleep(RETRY_PAUSES[min(attempt, len(RETRY_PAUSES) - 1)])
                attempt += 1
            except httpx.TimeoutException:
                raise TimeoutError from None  # the deadline's message, whichever timer fired
            except (httpx.HTTPError, httpx.InvalidURL, RuntimeError) as error:
                # RuntimeError: the client is closed (the worker is stopping).
                raise _unavailable(path, _reason(error)) from error


def _answer(path: str, reply: httpx.Response, status: int, model: type[A]) -> A:
    """The answer's body as ``model``, if it has ``status`` and is the contract's JSON."""
    _expect_status(path, reply, status)
    if reply.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise _unavailable(path, "answered without JSON")
    try:
        return model.model_validate_json(reply.content)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise _unavailable(path, f"malformed answer: {where}: {first['msg']}") from None


def _expect_status(path: str, reply: httpx.Response, status: int) -> None:
    if reply.status_code != status:
        detail = _error_detail(reply)
        answered = f"answered {reply.status_code}" + (f": {detail}" if detail else "")
        raise _unavailable(path, answered)


def _error_detail(reply: httpx.Response) -> str:
    """The ``detail`` of a JSON error body (such as why a new user was refused), one short line."""
    try:
        detail = reply.json()["error"]["detail"]
    except (ValueError, TypeError, KeyError):
        return ""
    return " ".join(detail.split())[:200] if isinstance(detail, str) else ""


def _user_or_none(answer: api.MaybeUser) -> User | None:
    return None if answer.user is None else answer.user.to_user()


def _reason(error: Exception) -> str:
    """The error's type and the first line of its message, cut to a log line's length."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


def _unavailable(path: str, reason: str) -> StoreUnavailable:
    """One line naming the call and what went wrong, never a secret: those are in bodies."""
    return StoreUnavailable(f"user service, {path}: {reason}")
