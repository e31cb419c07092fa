"""Who is making a request: a browser's login (session cookie) or a program's access token.

Flask-Login calls its loaders synchronously, but users live behind an async store. Both loaders
bridge with ``bridge.run``, which awaits the store on the server's event loop, wherever the user
is first needed: in sync code, in ``login_required`` before an async view starts, or inside an
async view (where ``asyncio.run`` would raise).

- **Session**: the ``user_loader`` looks the login's token up (:class:`LoggedInUser`).
- **Bearer token**: ``Authorization: Bearer <token>`` goes to Flask-Login's ``request_loader``,
  bridged the same way (:class:`TokenUserPrincipal`). A request that carries one is judged by it
  alone: its cookies are ignored, it never gets a cookie, and the browser CSRF check does not
  apply (a browser never attaches the header by itself). A token that is expired, revoked or
  malformed is a 401 with ``WWW-Authenticate: Bearer error="invalid_token"``, on any route.

``login_required`` works alike for both; :func:`require_scope` narrows a view to tokens that
carry a scope (a browser login has every scope).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user
from flask_login import login_required as _login_required

from ..bridge import run
from ..resources import user_store
from ..users import TokenUser, User
from .errors import json_error

F = TypeVar("F", bound=Callable[..., Any])

#: Flask-Login ships no type hints; this is its ``login_required``, typed for mypy --strict.
login_required: Callable[[F], F] = _login_required

login_manager = LoginManager()

#: RFC 6750's b64token, bounded.
_BEARER = re.compile(r"[Bb]earer ([A-Za-z0-9._~+/-]{1,256}=*)")
#: Blueprints whose bearer tokens are not users' access tokens: they check their own (the
#: internal users API's service token), so the loaders here leave those requests alone.
OWN_BEARER_TOKENS: set[str] = set()


class _Principal:
    """What Flask-Login needs of a logged-in user, for either way in: the flags and the
    user's ``id`` and ``username``."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.user = user

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username


class LoggedInUser(_Principal):
    """What Flask-Login holds for a browser's login: the user and the login's token.

    ``get_id`` returns the token, so Flask-Login stores the token, not the user id, in the
    session and remember-me cookies; ending the login server-side invalidates both.
    """

    #: A browser login may do all that its user may.
    scopes: frozenset[str] | None = None

    def __init__(self, user: User, token: str) -> None:
        super().__init__(user)
        self.token = token

    def get_id(self) -> str:
        return self.token


class TokenUserPrincipal(_Principal):
    """What Flask-Login holds for a request authenticated by an access token."""

    def __init__(self, found: TokenUser) -> None:
        super().__init__(found.user)
        self.token_id = found.token_id
        self.scopes: frozenset[str] | None = found.scopes

    def get_id(self) -> None:
        return None  # never stored in a cookie


def bearer_token() -> str | None:
    """The bearer token of this request, ``""`` for a malformed one, None without one."""
    header = request.headers.get("Authorization")
    if header is None or header[:7].lower() != "bearer " or request.blueprint in OWN_BEARER_TOKENS:
        return None
    match = _BEARER.fullmatch(header)
    return match.group(1) if match else ""


def authenticated_by_token() -> bool:
    """True when this request was authenticated by an access token (not a browser login)."""
    return isinstance(current_user._get_current_object(), TokenUserPrincipal)


def load_user(token: str) -> LoggedInUser | None:
    """Flask-Login's ``user_loader``: the session's login, unless a bearer token speaks."""
    if bearer_token() is not None:
        return None
    user = run(user_store().user_for_login(token))
    return None if user is None else LoggedInUser(user, token)


def load_user_from_request(_request: object) -> TokenUserPrincipal | None:
    """Flask-Login's ``request_loader``: the access token's user, if the token is live."""
    token = bearer_token()
    if token is None:
        return None
    found = run(user_store().user_for_access_token(token)) if token else None
    if found is None:
        g.invalid_bearer_token = True
        return None
    g.authenticated_by_token = True
    return TokenUserPrincipal(found)


def refuse_invalid_tokens() -> ResponseReturnValue | None:
    """``before_request``: a request with a bearer token that does not authenticate is a 401."""
    if bearer_token() is not None and not current_user.is_authenticated:
        return unauthorized()
    return None


def unauthorized() -> ResponseReturnValue:
    if g.get("invalid_bearer_token"):
        response = json_error(401, "The access token is invalid, expired or revoked.")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    if wants_html():
        return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
    response = json_error(401, "Log in first, or send an access token.")
    response.headers["WWW-Authenticate"] = 'Bearer realm="api", Cookie realm="login"'
    return response


def wants_html() -> bool:
    """True for a browser navigating (it prefers HTML); JSON for everyone else, ``*/*`` too."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def require_scope(*scopes: str) -> Callable[[F], F]:
    """Let a view run only for a logged-in user whose token carries every one of ``scopes``.

    A browser login has every scope. Like ``login_required``, a sync wrapper: an async view
    stays async (the bridge looks through the wrapper).
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            held: frozenset[str] | None = current_user.scopes
            if held is not None and not set(scopes) <= held:
                response = json_error(403, "The access token lacks a scope this needs.")
                needed = " ".join(scopes)
                response.headers["WWW-Authenticate"] = (
                    f'Bearer error="insufficient_scope", scope="{needed}"'
                )
                return response
            return current_app.ensure_sync(view)(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def login_required_by_browser(view: F) -> F:
    """Let a view run only for a browser's login: an access token may not do this."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if authenticated_by_token():
            return json_error(403, "Only a browser login may do this, not an access token.")
        return current_app.ensure_sync(view)(*args, **kwargs)

    return checked  # type: ignore[return-value]


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
    login_manager.request_loader(load_user_from_request)
    login_manager.unauthorized_handler(unauthorized)
    login_manager.init_app(app)
    app.before_request(refuse_invalid_tokens)
