"""The stock-Flask reference: the same endpoints as plain Flask serves them, per Flask's docs.

Hypercorn serves the WSGI app directly (``hypercorn stock_app:app`` detects WSGI), so each
request runs in a thread of the server's default executor, and Flask's built-in async support
runs each ``async def`` view with asgiref's ``async_to_sync``: a new event loop per call.

That dictates the one choice a working stock app has to make: the upstream client cannot be
shared (a client bound to one throwaway loop fails on the next with "Event loop is closed"), so
each request builds its own, configured as the others' (``common.new_upstream_client``, with
the SSL context built once). The user store is shared: its work runs in its own threads, bound
to no event loop. So it is the SQLite store only: an asyncpg pool is bound to one loop, and
no sync PostgreSQL driver is among the bench's packages, so ``--store postgres`` leaves stock
Flask out. Flask-Login's ``user_loader`` is synchronous, so it waits for a store thread
directly, the cheapest way a sync callback has.

    hypercorn --config hypercorn.toml stock_app:app   (PYTHONPATH=bench/apps)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from common import (
    INVALID_TOKEN,
    INVALID_TOKEN_DETAIL,
    LOG_IN_FIRST,
    LOG_IN_FIRST_DETAIL,
    LOGIN_LIFETIME,
    SECRET_KEY,
    UPSTREAM_URL,
    LoginRequest,
    bearer_token,
    error_body,
    fetch_upstream,
    freeze_startup_heap,
    new_upstream_client,
    normalize_username,
    security_headers,
)
from flask import Flask, Request, Response, g, jsonify, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_login import login_required as _login_required
from pydantic import ValidationError
from stores import SQLiteStore, User

F = TypeVar("F", bound=Callable[..., Any])
login_required: Callable[[F], F] = _login_required  # Flask-Login ships no type hints

store = SQLiteStore()
app = Flask(__name__)
app.config.update(
    SECRET_KEY=SECRET_KEY,
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    PERMANENT_SESSION_LIFETIME=timedelta(seconds=LOGIN_LIFETIME),
)
login_manager = LoginManager(app)


class LoginUser(UserMixin):  # type: ignore[misc]  # untyped base
    """What Flask-Login keeps: the user and the log-in token, which ``get_id`` returns."""

    def __init__(self, user: User, token: str) -> None:
        self.id, self.username, self.token = user.id, user.username, token

    def get_id(self) -> str:
        return self.token


def load_user(token: str) -> LoginUser | None:
    if bearer_token(request.headers.get("Authorization")) is not None:
        return None  # a request with a bearer token is judged by it alone
    user = store.user_for_token_blocking(token)
    return None if user is None else LoginUser(user, token)


def load_user_from_request(incoming: Request) -> LoginUser | None:
    """Flask-Login's ``request_loader``: the access token's user, if the token is live."""
    token = bearer_token(incoming.headers.get("Authorization"))
    if token is None:
        return None
    user = store.user_for_access_token_blocking(token) if token else None
    g.invalid_token = user is None
    return None if user is None else LoginUser(user, "")


@app.before_request
def refuse_invalid_tokens() -> tuple[Response, int, dict[str, str]] | None:
    """A request with a bearer token that does not authenticate is a 401, on any route."""
    if bearer_token(request.headers.get("Authorization")) is None:
        return None
    return None if current_user.is_authenticated else unauthorized()


def error(status: int, detail: str) -> tuple[Response, int]:
    return jsonify(error_body(status, detail)), status


def unauthorized() -> tuple[Response, int, dict[str, str]]:
    if g.get("invalid_token"):
        return *error(401, INVALID_TOKEN_DETAIL), INVALID_TOKEN
    return *error(401, LOG_IN_FIRST_DETAIL), LOG_IN_FIRST


login_manager.user_loader(load_user)
login_manager.request_loader(load_user_from_request)
login_manager.unauthorized_handler(unauthorized)


@app.after_request
def add_security_headers(response: Response) -> Response:
    response.headers.extend(security_headers(request.path))
    return response


@app.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@app.get("/upstream")
async def call_upstream() -> tuple[Response, int]:
    async with new_upstream_client() as client:
        body, status = await fetch_upstream(client, UPSTREAM_URL)
    return jsonify(body), status


@app.post("/auth/login")
async def login() -> Response | tuple[Response, int]:
    try:
        credentials = LoginRequest.model_validate(request.get_json())
    except ValidationError:
        return error(422, "Invalid login request.")
    user = await store.authenticate(normalize_username(credentials.username), credentials.password)
    if user is None:
        return error(401, "Wrong username or password.")
    token = await store.start_login(user)
    session.clear()
    login_user(LoginUser(user, token))
    return jsonify(id=user.id, username=user.username)


@app.get("/auth/me")
@login_required
async def me() -> Response:
    return jsonify(id=current_user.id, username=current_user.username)


# Hypercorn imports this module in the worker; a WSGI app has no start-up event.
freeze_startup_heap()
