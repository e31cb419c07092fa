"""Log in, log out, and who am I.

A login is a server-side record in the user store; its token rides in Flask's session cookie
(and the remember-me cookie), so logging out ends every copy of them (``principals.py`` loads
it back, and access tokens for programs).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from pydantic import ValidationError
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from ..audit import audit
from ..resources import current_settings, login_throttle, user_store
from ..users import StoreUnavailable, normalize_username
from . import principals
from .errors import json_error
from .openapi import documented
from .principals import LoggedInUser, login_required, wants_html
from .schemas import ErrorBody, LoginRequest, UserOut
from .security import safe_redirect_target

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _login_fields() -> dict[str, Any]:
    if request.is_json:
        data = request.get_json()  # malformed JSON: 400 from Werkzeug, rendered as JSON
        if not isinstance(data, dict):
            raise BadRequest("The JSON body must be an object.")
        return data
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.to_dict()
    raise UnsupportedMediaType("Send JSON or form fields.")


def _login_rate_key() -> str:
    """Count failed logins per client address and account, so one user cannot lock out all.

    The username is normalized as login does, or `` alice`` would count apart from ``alice``.
    """
    fields: Any = request.get_json(silent=True) if request.is_json else request.form
    username = fields.get("username") if isinstance(fields, dict) else None
    account = normalize_username(username) if isinstance(username, str) else ""
    return f"{request.remote_addr or ''}|{account}"


@bp.get("/login")
@documented(
    "The HTML login form, for browsers; it posts to this same path.",
    tags=("auth",),
    responses={200: ("The form (text/html).", None)},
)
def login_page() -> str:
    return render_template("login.html", next=safe_redirect_target(request.args.get("next"), ""))


_UNAVAILABLE = (503, ("The user store is not available; retry after Retry-After.", ErrorBody))


@bp.post("/login")
@documented(
    "Log in with a username and a password; a session cookie carries the login.",
    body=LoginRequest,
    tags=("auth",),
    responses={
        200: ("Logged in.", UserOut),
        303: ("A browser's form login: on to the next page.", None),
        400: ("The body is not a JSON object.", ErrorBody),
        401: ("Wrong username or password.", ErrorBody),
        415: ("Neither JSON nor form fields.", ErrorBody),
        422: ("Fields missing or out of bounds.", ErrorBody),
        429: ("Too many failed logins from here for this account.", ErrorBody),
        _UNAVAILABLE[0]: _UNAVAILABLE[1],
    },
)
async def login() -> ResponseReturnValue:
    throttle, rate_key = login_throttle(), _login_rate_key()
    if (wait := await throttle.retry_after(rate_key)) is not None:
        audit("login", "refused")
        response = json_error(429, "Too many failed logins; try again later.")
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        credentials = LoginRequest.model_validate(_login_fields())
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False, include_context=False)
        return json_error(422, "Invalid login request.", fields=details)
    store = user_store()
    try:
        user = await store.authenticate(
            normalize_username(credentials.username), credentials.password
        )
    except StoreUnavailable:
        audit("login", "unavailable")
        raise
    if user is None:
        await throttle.failed(rate_key)  # only failures count: users may log in often
        audit("login", "failure")
        return json_error(401, "Wrong username or password.")
    settings = current_settings()
    lifetime = settings.remember_lifetime if credentials.remember else settings.login_lifetime
    token = await store.start_login(user, lifetime)
    # Start from an empty session: keys planted before login must not survive it (fixation).
    session.clear()
    login_user(LoggedInUser(user, token), remember=credentials.remember)
    audit("login", "success", user_id=user.id)
    if wants_html():
        target = safe_redirect_target(request.form.get("next"), url_for("auth.me"))
        return redirect(target, 303)
    return jsonify(id=user.id, username=user.username)


@bp.post("/logout")
@documented(
    "End this login: its cookies, and copies of them, stop working.",
    tags=("auth",),
    responses={204: ("Logged out (or was not logged in).", None), 503: _UNAVAILABLE[1]},
)
async def logout() -> ResponseReturnValue:
    if current_user.is_authenticated:
        await user_store().end_login(current_user.get_id())
        audit("logout", "success", user_id=current_user.id)
    logout_user()
    return Response(status=204)


@bp.get("/me")
@login_required
@documented(
    "Who is logged in.",
    tags=("auth",),
    security=("session", "bearer"),
    responses={
        200: ("The logged-in user.", UserOut),
        302: ("A browser that is not logged in: to the login page.", None),
        401: ("Not logged in, or the access token is invalid, expired or revoked.", ErrorBody),
        503: _UNAVAILABLE[1],
    },
)
async def me() -> Response:
    return jsonify(id=current_user.id, username=current_user.username)


def init_app(app: Flask) -> None:
    principals.init_app(app)
    app.register_blueprint(bp)
