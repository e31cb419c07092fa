"""A stand-in user service for the tests: the internal users API (``users/api.py``) served over
real HTTP on 127.0.0.1 by aiohttp, from a thread and event loop of its own (so that sync code,
the CLI and Flask's test client, can call it too), with users, logins and access tokens kept
in memory (``memory_store.py``).

It fails on demand as a real one does: ``down()`` closes its port, and :attr:`UserService.mode`
makes it ``slow`` (answers only once :meth:`UserService.release` is called), answer ``html``,
a ``wrong-shape`` JSON body, ``error`` (500), ``drop`` the connection without answering, or send
bytes that are ``not-http``. Requests are counted per API path in :attr:`UserService.calls`.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from {{ cookiecutter.package_name }}.users import User, UsernameTaken, api
from tests.memory_store import PAST, MemoryStore

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Mode = Literal["ok", "slow", "html", "wrong-shape", "error", "drop", "not-http"]

#: Running services by URL, so that helpers given only settings can reach theirs.
RUNNING: dict[str, UserService] = {}


class UserService:
    def __init__(self, token: str) -> None:
        self.token = token
        self.port = 0  # the first start picks a free one; restarts reuse it
        self.mode: Mode = "ok"
        self.calls: Counter[str] = Counter()
        #: Every request's path and query, and every login token handed out.
        self.urls: list[str] = []
        self.tokens_given: list[str] = []
        #: What it keeps; tests may look at it, or change it behind the service's back.
        self.store = MemoryStore()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @classmethod
    @contextmanager
    def running(cls, token: str) -> Iterator[UserService]:
        service = cls(token)
        service._thread.start()
        try:
            service.start()
            RUNNING[service.url] = service
            yield service
        finally:
            RUNNING.pop(service.url, None)
            service.release()
            service.stop()
            service._loop.call_soon_threadsafe(service._loop.stop)
            service._thread.join(timeout=10)
            service._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> None:
        """Listen on the service's port (again)."""
        self._on_loop(self._start())

    def stop(self) -> None:
        """Close the port and every connection: calls are refused until :meth:`start`."""
        self._on_loop(self._stop())

    @contextmanager
    def down(self) -> Iterator[None]:
        self.stop()
        try:
            yield
        finally:
            self.start()

    def release(self) -> None:
        """Let ``slow`` calls, waiting and future, answer."""
        self._loop.call_soon_threadsafe(self._released.set)

    def expire_logins(self) -> None:
        self.store.logins = {key: (user, PAST) for key, (user, _) in self.store.logins.items()}

    def expire_access_tokens(self) -> None:
        self.store.tokens = {
            key: replace(found, token=replace(found.token, expires_at=PAST))
            for key, found in self.store.tokens.items()
        }

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.calls[path] += 1
        self.urls.append(str(request.rel_url))
        failed = await self._fail(request)
        if failed is not None:
            return failed
        if request.headers.get("Authorization") is None or not hmac.compare_digest(
            request.headers["Authorization"], f"Bearer {self.token}"
        ):
            return _error(401, "A valid bearer token is required.")
        try:
            return await self._answer(path, await request.read())
        except ValidationError:
            return _error(422, "The body does not match the users API.")

    async def _fail(self, request: web.Request) -> web.StreamResponse | None:
        if self.mode == "slow":
            await self._released.wait()
        elif self.mode == "html":
            return web.Response(text="<html>Bad gateway</html>", content_type="text/html")
        elif self.mode == "wrong-shape":  # an id as a string: only a lax parser takes it
            return web.json_response({"user": {"id": "1", "username": "alice"}, "token": 7})
        elif self.mode == "error":
            return _error(500, "Internal Server Error")
        elif self.mode in ("drop", "not-http") and request.transport is not None:
            if self.mode == "not-http":
                request.transport.write(b"this is not HTTP\r\n\r\n")
            request.transport.close()
            return web.Response()  # never sent: the connection is gone
        return None

    async def _answer(self, path: str, body: bytes) -> web.Response:
        """The API over :attr:`store`, as ``web/users_api.py`` maps it onto a real store."""
        store = self.store
        if path == api.AUTHENTICATE:
            credentials = _parse(api.Credentials, body)
            user = await store.authenticate(credentials.username, credentials.password)
            return _json(200, _maybe(user))
        if path == api.CREATE_USER:
            credentials = _parse(api.Credentials, body)
            try:
                user = await store.create_user(credentials.username, credentials.password)
            except UsernameTaken:
                return _error(409, f"user {credentials.username!r} exists already")
            return _json(201, api.CreatedUser(user=api.UserBody.of(user)))
        if path == api.START_LOGIN:
            start = _parse(api.StartLogin, body)
            lifetime = timedelta(seconds=start.lifetime_seconds)
            token = await store.start_login(start.user.to_user(), lifetime)
            self.tokens_given.append(token)
            return _json(201, api.StartedLogin(token=token))
        if path == api.LOOKUP_LOGIN:
            token = _parse(api.LoginToken, body).token
            return _json(200, _maybe(await store.user_for_login(token)))
        if path == api.END_LOGIN:
            await store.end_login(_parse(api.LoginToken, body).token)
            return web.Response(status=204)
        if path == api.PING:
            return _json(200, api.Pong(status="ok"))
        return await self._answer_accounts(path, body)

    async def _answer_accounts(self, path: str, body: bytes) -> web.Response:
        store = self.store
        if path == api.ACCOUNT:
            found = await store.account(_parse(api.AccountName, body).username)
            account = None if found is None else api.AccountBody.of(found)
            return _json(200, api.MaybeAccount(account=account))
        if path == api.ACCOUNTS:
            listed = [api.AccountBody.of(account) for account in await store.accounts()]
            return _json(200, api.AccountList(accounts=listed))
        if path == api.SET_PASSWORD:
            change = _parse(api.NewPassword, body)
            await store.set_password(change.user_id, change.password)
        elif path == api.SET_ACTIVE:
            activity = _parse(api.Activity, body)
            await store.set_active(activity.user_id, activity.active)
        elif path == api.DELETE_USER:
            await store.delete_user(_parse(api.UserId, body).user_id)
        elif path == api.CREATE_TOKEN:
            new = _parse(api.NewToken, body)
            made, secret = await store.create_access_token(
                new.user_id, new.name, new.scopes, new.expires_at
            )
            return _json(201, api.CreatedToken(token=api.AccessTokenBody.of(made), secret=secret))
        elif path == api.LIST_TOKENS:
            tokens = await store.access_tokens(_parse(api.UserId, body).user_id)
            return _json(200, api.TokenList(tokens=[api.AccessTokenBody.of(t) for t in tokens]))
        elif path == api.REVOKE_TOKEN:
            ref = _parse(api.TokenRef, body)
            revoked = await store.revoke_access_token(ref.user_id, ref.token_id)
            return _json(200, api.Revoked(revoked=revoked))
        elif path == api.LOOKUP_TOKEN:
            whom = await store.user_for_access_token(_parse(api.LoginToken, body).token)
            user = None if whom is None else api.TokenUserBody.of(whom)
            return _json(200, api.MaybeTokenUser(found=user))
        else:
            return _error(404, "Not Found")
        return web.Response(status=204)


def _parse(model: type[M], body: bytes) -> M:
    return model.model_validate_json(body)


def _maybe(user: User | None) -> api.MaybeUser:
    return api.MaybeUser(user=None if user is None else api.UserBody.of(user))


def _json(status: int, message: BaseModel) -> web.Response:
    return web.Response(
        status=status, body=message.model_dump_json(), content_type="application/json"
    )


def _error(status: int, detail: str) -> web.Response:
    return web.json_response({"error": {"status": status, "detail": detail}}, status=status)
