"""The Quart reference: the service's benchmarked endpoints, written for Quart's public API.

Same endpoints, answers, headers and I/O as the baked service (``common.py``): the user store on
the same database (``stores.py``: SQLite or PostgreSQL), one upstream client per worker, both
opened when Quart starts serving.
Authentication is quart-auth, whose signed cookie carries the log-in token; the user is looked
up in the store at most once per request. A request with ``Authorization: Bearer`` is judged by
its access token alone, looked up before the view (a 401 on any route if it does not
authenticate), as the service's request loader does. It leaves out what a Quart app would add
with its own extensions, CSRF checks and failed-login throttling, which the baked service pays for.

    hypercorn --config hypercorn.toml quart_app:app   (PYTHONPATH=bench/apps)
"""

from __future__ import annotations

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
from pydantic import ValidationError
from quart import Quart, Response, g, jsonify, request
from quart_auth import Action, AuthUser, QuartAuth, Unauthorized, current_user, login_user
from stores import User, open_store

store = open_store()
upstream = Upstream()


class StoreUser(AuthUser):
    """quart-auth's user, resolved from the store on first use and kept for the request."""

    def __init__(self, auth_id: str | None, action: Action = Action.PASS) -> None:
        super().__init__(auth_id, action)
        self._user: User | None = None
        self._resolved = False

    async def user(self) -> User | None:
        if not self._resolved:
            self._resolved = True
            if self.auth_id is not None:
                self._user = await store.user_for_token(self.auth_id)
        return self._user

    @property
    async def is_authenticated(self) -> bool:
        return await self.user() is not None


app = Quart(__name__)
app.config.update(
    SECRET_KEY=SECRET_KEY, QUART_AUTH_COOKIE_SECURE=False, QUART_AUTH_DURATION=LOGIN_LIFETIME
)
QuartAuth(app, user_class=StoreUser)


@app.before_serving
async def open_resources() -> None:
    await store.open()
    upstream.open()
    freeze_startup_heap()


@app.after_serving
async def close_resources() -> None:
    await upstream.aclose()
    await store.aclose()


@app.after_request
async def add_security_headers(response: Response) -> Response:
    response.headers.extend(security_headers(request.path))
    return response


def error(status: int, detail: str) -> tuple[Response, int]:
    return jsonify(error_body(status, detail)), status


@app.before_request
async def authenticate_bearer() -> tuple[Response, int, dict[str, str]] | None:
    """The access token's user into ``g.token_user``; a token that does not authenticate: 401."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return None
    g.token_user = await store.user_for_access_token(token) if token else None
    if g.token_user is None:
        return *error(401, INVALID_TOKEN_DETAIL), INVALID_TOKEN
    return None


@app.errorhandler(Unauthorized)
async def unauthorized(_: Exception) -> tuple[Response, int, dict[str, str]]:
    return *error(401, LOG_IN_FIRST_DETAIL), LOG_IN_FIRST


@app.get("/healthz")
async def healthz() -> Response:
    return jsonify(status="ok")


@app.get("/upstream")
async def call_upstream() -> tuple[Response, int]:
    body, status = await upstream.get_json()
    return jsonify(body), status


@app.post("/auth/login")
async def login() -> Response | tuple[Response, int]:
    try:
        credentials = LoginRequest.model_validate(await request.get_json())
    except ValidationError:
        return error(422, "Invalid login request.")
    user = await store.authenticate(normalize_username(credentials.username), credentials.password)
    if user is None:
        return error(401, "Wrong username or password.")
    login_user(StoreUser(await store.start_login(user)))
    return jsonify(id=user.id, username=user.username)


@app.get("/auth/me")
async def me() -> Response:
    user = g.get("token_user")
    if user is None and isinstance(current_user, StoreUser):
        user = await current_user.user()
    if user is None:
        raise Unauthorized()
    return jsonify(id=user.id, username=user.username)
