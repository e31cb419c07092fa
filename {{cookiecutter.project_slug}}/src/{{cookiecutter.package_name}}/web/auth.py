"""Log in, log out, and who am I: Flask-Login over the async user store.

Flask-Login calls its ``user_loader`` synchronously, but the user lives behind an async store.
:func:`load_user` bridges the two with ``bridge.run``, which awaits the store on the server's
event loop. That works wherever the user is first needed: in sync code, in ``login_required``
before an async view starts, or inside an async view (where ``asyncio.run`` would raise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_login import login_required as _login_required
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from ..bridge import run
from ..resources import current_settings, login_throttle, user_store
from ..users import PASSWORD_MAX_LENGTH, USERNAME_MAX_LENGTH, User, normalize_username
from .errors import json_error
from .security import safe_redirect_target

F = TypeVar("F", bound=Callable[..., Any])

#: Flask-Login ships no type hints; this is its ``login_required``, typed for mypy --strict.
login_required: Callable[[F], F] = _login_required

bp = Blueprint("auth", __name__, url_prefix="/auth")
login_manager = LoginManager()


class LoggedInUser:
    """What Flask-Login holds for a logged-in request: the user and the login's token.

    ``get_id`` returns the token, so Flask-Login stores the token, not the user id, in the
    session and remember-me cookies; ending the login server-side invalidates both.
    """

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User, token: str) -> None:
        self.user = user
        self.token = token

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username

    def get_id(self) -> str:
        return self.token


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str = Field(min_length=1, max_length=USERNAME_MAX_LENGTH)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    remember: bool = False


def load_user(token: str) -> LoggedInUser | None:
    """Sync callback Flask-Login calls at most once per request: await the store on the loop."""
    user = run(user_store().user_for_login(token))
    return None if user is None else LoggedInUser(user, token)


def unauthorized() -> ResponseReturnValue:
    if wants_html():
        return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
    response = json_error(401, "Log in first.")
    response.headers["WWW-Authenticate"] = 'Cookie realm="login", form="/auth/login"'
    return response


def wants_html() -> bool:
    """True for a browser navigating (it prefers HTML); JSON for everyone else, ``*/*`` too."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


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
def login_page() -> str:
    return render_template("login.html", next=safe_redirect_target(request.args.get("next"), ""))


@bp.post("/login")
async def login() -> ResponseReturnValue:
    throttle, rate_key = login_throttle(), _login_rate_key()
    if (wait := await throttle.retry_after(rate_key)) is not None:
        response = json_error(429, "Too many failed logins; try again later.")
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        credentials = LoginRequest.model_validate(_login_fields())
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False, include_context=False)
        return json_error(422, "Invalid login request.", fields=details)
    store = user_store()
    user = await store.authenticate(normalize_username(credentials.username), credentials.password)
    if user is None:
        await throttle.failed(rate_key)  # only failures count: users may log in often
        return json_error(401, "Wrong username or password.")
    settings = current_settings()
    lifetime = settings.remember_lifetime if credentials.remember else settings.login_lifetime
    token = await store.start_login(user, lifetime)
    # Start from an empty session: keys planted before login must not survive it (fixation).
    session.clear()
    login_user(LoggedInUser(user, token), remember=credentials.remember)
    if wants_html():
        target = safe_redirect_target(request.form.get("next"), url_for("auth.me"))
        return redirect(target, 303)
    return jsonify(id=user.id, username=user.username)


@bp.post("/logout")
async def logout() -> ResponseReturnValue:
    if current_user.is_authenticated:
        await user_store().end_login(current_user.get_id())
    logout_user()
    return Response(status=204)


@bp.get("/me")
@login_required
async def me() -> Response:
    return jsonify(id=current_user.id, username=current_user.username)


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)
    login_manager.init_app(app)
    app.register_blueprint(bp)
