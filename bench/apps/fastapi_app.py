"""The FastAPI reference: the service's benchmarked endpoints, written for FastAPI's public API.

Same endpoints, answers, headers and I/O as the baked service (``common.py``): the user store on
the same database (``stores.py``: SQLite or PostgreSQL), one upstream client per worker, both
opened in the lifespan. The log-in token
travels in a signed, timed cookie (itsdangerous, as Flask's session and quart-auth sign theirs),
read by a dependency that looks the user up once per request. The security headers are added
by a pure ASGI middleware (Starlette's documented lighter alternative to ``@app.middleware``),
and errors are rendered in the service's JSON shape by exception handlers.

    hypercorn --config hypercorn.toml fastapi_app:app   (PYTHONPATH=bench/apps)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from common import (
    INVALID_TOKEN,
    INVALID_TOKEN_DETAIL,
    LOG_IN_FIRST,
    LOG_IN_FIRST_DETAIL,
    LOGIN_LIFETIME,
    SECRET_KEY,
    LoginRequest,
    Upstream,
    bearer_token,
    error_body,
    freeze_startup_heap,
    normalize_username,
    security_headers,
)
from fastapi import Cookie, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from stores import User, open_store

COOKIE = "session"
store = open_store()
upstream = Upstream()
signer = URLSafeTimedSerializer(SECRET_KEY, salt="bench-login")


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await store.open()
    upstream.open()
    freeze_startup_heap()
    yield
    await upstream.aclose()
    await store.aclose()


class SecurityHeaders:
    """Adds the service's security headers to every response's start message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.encoded = {
            prefix: [(k.lower().encode(), v.encode()) for k, v in security_headers(prefix)]
            for prefix in ("/", "/auth")
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.encoded["/auth" if scope["path"].startswith("/auth") else "/"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


app = FastAPI(lifespan=lifespan)
app.add_middleware(SecurityHeaders)


def error(status: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, detail), status, headers)


@app.exception_handler(StarletteHTTPException)
async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    return error(exc.status_code, str(exc.detail), exc.headers)


@app.exception_handler(RequestValidationError)
async def invalid_request(_: Request, __: RequestValidationError) -> JSONResponse:
    return error(422, "Invalid login request.")


async def current_user(
    session: Annotated[str | None, Cookie()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> User:
    """The caller: the access token's user (a bearer token is judged alone), or the cookie's
    log-in token's, checked and looked up; else 401."""
    access_token = bearer_token(authorization)
    if access_token is not None:
        by_token = await store.user_for_access_token(access_token) if access_token else None
        if by_token is None:
            raise HTTPException(401, INVALID_TOKEN_DETAIL, headers=INVALID_TOKEN)
        return by_token
    user = None
    if session is not None:
        try:
            token: str = signer.loads(session, max_age=LOGIN_LIFETIME)
        except BadSignature:
            pass
        else:
            user = await store.user_for_token(token)
    if user is None:
        raise HTTPException(401, LOG_IN_FIRST_DETAIL, headers=LOG_IN_FIRST)
    return user


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/upstream")
async def call_upstream() -> JSONResponse:
    body, status = await upstream.get_json()
    return JSONResponse(body, status)


@app.post("/auth/login")
async def login(credentials: LoginRequest, response: Response) -> dict[str, Any]:
    user = await store.authenticate(normalize_username(credentials.username), credentials.password)
    if user is None:
        raise HTTPException(401, "Wrong username or password.")
    token = await store.start_login(user)
    response.set_cookie(
        COOKIE, signer.dumps(token), max_age=LOGIN_LIFETIME, httponly=True, samesite="lax"
    )
    return {"id": user.id, "username": user.username}


@app.get("/auth/me")
async def me(user: Annotated[User, Depends(current_user)]) -> dict[str, Any]:
    return {"id": user.id, "username": user.username}
