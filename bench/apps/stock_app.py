"""The stock-Flask reference: the same endpoints as plain Flask serves them, per Flask's docs.

Hypercorn serves the WSGI app directly (``hypercorn stock_app:app`` detects WSGI), so each
request runs in a thread of the server's default executor, and Flask's built-in async support
runs each ``async def`` view with asgiref's ``async_to_sync``: a new event loop per call.

That dictates two choices a working stock app has to make, both the best one available:

* The HTTP client cannot be shared (a client bound to one throwaway loop fails on the next
  with "Event loop is closed"), so each request builds its own ``aiohttp.ClientSession``, as
  the baked service's ``http_client.new_client`` configures it (aiohttp builds its default SSL
  context once, at import, so a session per request costs no TLS set-up).
* The user store is the baked service's own, pooled, with its own threads: its queries and
  password hashes run in those threads, so unlike the HTTP client it is bound to no event
  loop and can be shared. So are its tables and queries, and the Flask-Login user class (its
  ``get_id`` is the server-side login token).

Flask-Login's ``user_loader`` is synchronous; it calls the async store through
``app.ensure_sync``, Flask's documented bridge (asgiref again, one more loop per request).

    hypercorn --config hypercorn.toml stock_app:app   (cwd: the baked service, for .env)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, jsonify, request, session
from flask_login import LoginManager, current_user, login_user
from flask_login import login_required as _login_required
from my_service.app import freeze_startup_heap
from my_service.auth import SessionUser
from my_service.http_client import new_client
from my_service.settings import Settings
from my_service.sql_store import SQLUserStore, create_engine
from my_service.users import User, normalize_username
from pydantic import ValidationError
from shared import LoginRequest, add_security_headers, error_body, fetch_upstream

F = TypeVar("F", bound=Callable[..., Any])
login_required: Callable[[F], F] = _login_required  # Flask-Login ships no type hints

settings = Settings()
store = SQLUserStore(
    create_engine(settings),
    threads=settings.database_threads,
    password_threads=settings.password_hash_threads,
)

app = Flask(__name__)
app.config.update(settings.flask_config())
app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or "bench-only-secret"
login_manager = LoginManager(app)


def load_user(token: str) -> SessionUser | None:
    user: User | None = current_app.ensure_sync(store.user_for_session)(token)
    return None if user is None else SessionUser(user, token)


def unauthorized() -> tuple[Response, int]:
    return error(401, "Unauthorized", "Log in first.")


login_manager.user_loader(load_user)
login_manager.unauthorized_handler(unauthorized)


@app.after_request
def security_headers(response: Response) -> Response:
    add_security_headers(response.headers, request.path)
    return response


def error(status: int, title: str, detail: str) -> tuple[Response, int]:
    return jsonify(error_body(status, title, detail)), status


@app.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@app.get("/upstream")
async def call_upstream() -> tuple[Response, int]:
    async with new_client(
        connect_timeout=settings.upstream_connect_timeout,
        read_timeout=settings.upstream_read_timeout,
        max_connections=1,
    ) as client:
        body, status = await fetch_upstream(client, settings.upstream_url)
    return jsonify(body), status


@app.post("/auth/login")
async def login() -> Response | tuple[Response, int]:
    try:
        credentials = LoginRequest.model_validate(request.get_json())
    except ValidationError:
        return error(422, "Unprocessable Content", "Invalid login request.")
    user = await store.authenticate(normalize_username(credentials.username), credentials.password)
    if user is None:
        return error(401, "Unauthorized", "Wrong username or password.")
    token = await store.start_session(user, settings.session_lifetime)
    session.clear()
    login_user(SessionUser(user, token), remember=credentials.remember)
    return jsonify(id=user.id, username=user.username)


@app.get("/auth/me")
@login_required
async def me() -> Response:
    return jsonify(id=current_user.id, username=current_user.username)


# As the baked service does at start-up (Hypercorn imports this module in the worker).
freeze_startup_heap()
