"""The logged-in user's own account: changing the password.

A change ends every login and access token of the user, this browser's included, on every
worker and instance (the store deletes them; every request looks them up). The current
password must be given, and wrong guesses count against the same failed-login limit as the
login form, so this route cannot be used to guess it.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user

from ..audit import audit
from ..resources import current_settings, login_throttle, user_store
from ..users.password_rules import password_problem
from .errors import json_error
from .openapi import documented
from .principals import login_required_by_browser
from .schemas import ErrorBody, PasswordChange, json_body

bp = Blueprint("account", __name__, url_prefix="/auth")


@bp.post("/password")
@login_required_by_browser
@documented(
    "Change the logged-in user's password; every login and access token of theirs ends.",
    body=PasswordChange,
    tags=("account",),
    security=("session",),
    responses={
        204: ("Changed; this login has ended too.", None),
        400: ("The body is not a JSON object.", ErrorBody),
        401: ("Not logged in.", ErrorBody),
        403: ("The current password is wrong, or an access token asked.", ErrorBody),
        415: ("Not JSON.", ErrorBody),
        422: ("A field missing, or the new password not acceptable.", ErrorBody),
        429: ("Too many wrong current passwords.", ErrorBody),
        503: ("The user store is not available.", ErrorBody),
    },
)
async def change_password() -> ResponseReturnValue:
    change = json_body(PasswordChange, "password change")
    user_id, username = current_user.id, current_user.username
    throttle, rate_key = login_throttle(), f"{request.remote_addr or ''}|{username}"
    if (wait := await throttle.retry_after(rate_key)) is not None:
        audit("password.change", "refused", user_id=user_id)
        response = json_error(429, "Too many wrong passwords; try again later.")
        response.headers["Retry-After"] = str(wait)
        return response
    minimum = current_settings().password_min_length
    if problem := password_problem(change.new_password, username=username, min_length=minimum):
        return json_error(422, f"The new password is not acceptable: {problem}.")
    store = user_store()
    if await store.authenticate(username, change.current_password) is None:
        await throttle.failed(rate_key)
        audit("password.change", "failure", user_id=user_id)
        return json_error(403, "The current password is wrong.")
    await store.set_password(user_id, change.new_password)
    audit("password.change", "success", user_id=user_id)
    logout_user()
    return Response(status=204)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
