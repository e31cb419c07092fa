"""The internal users API (contract in ``users/api.py``): this service as the identity provider.

Services made from this template with ``user_store=http`` keep their users in another service:
they check passwords, create users, and start, look up and end logins through these calls, so
one login is one record here whichever of them made it, and ending it anywhere ends it for all.

Off unless ``USERS_API_TOKEN`` is set: without it the routes do not exist (404 for every path
under ``/internal/``, whatever the method). With it, every call must carry
``Authorization: Bearer <token>``, compared in constant time, or gets 401.

Whoever holds the token is trusted with every account, so:

- **No login throttle here.** The consumer throttles its own login route, per client address
  and username, which only it sees; counting here would count all of a consumer's users against
  that consumer's one address. Keep the token secret and the API off public networks.
- **Nothing secret leaves.** Users are ``{"id", "username"}``, never a hash; a refused body's
  error lists the fields at fault, never their values (a password would be one).
- **The CSRF check passes servers.** It refuses browsers' cross-site writes only, by their
  ``Sec-Fetch-Site`` and ``Origin`` headers (``security.py``); servers send neither, and a
  browser cannot add the bearer token by itself.

A store that cannot answer is a 503, as on every route; the consumer answers 503 in turn.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import TypeVar

from flask import Blueprint, Flask, Response, abort, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import UnsupportedMediaType

from ..resources import current_settings, user_store
from ..users import User, UsernameTaken, api, normalize_username, validate_username
from ..users.password_rules import password_problem
from . import principals
from .errors import json_error

M = TypeVar("M", bound=BaseModel)

bp = Blueprint("users_api", __name__, url_prefix="/internal")


@bp.before_request
def require_token() -> ResponseReturnValue | None:
    token = current_settings().users_api_token
    expected = token.get_secret_value().encode() if token else b""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest's time depends on the lengths only, never on where the bytes differ.
    if expected and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), expected):
        return None
    response = json_error(401, "A valid bearer token is required.")
    response.headers["WWW-Authenticate"] = 'Bearer realm="users-api"'
    return response


@bp.after_request
def never_cache(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _body(model: type[M]) -> M:
    """The request's JSON body as ``model``: 415 if it is not JSON, 422 if it breaks the
    contract, listing the fields at fault without their values."""
    if not request.is_json:
        raise UnsupportedMediaType("Send JSON.")
    try:
        return model.model_validate_json(request.get_data())
    except ValidationError as error:
        fields = error.errors(include_url=False, include_input=False, include_context=False)
        abort(json_error(422, "The body does not match the users API.", fields=fields))


def _answer(status: int, message: BaseModel) -> Response:
    return Response(message.model_dump_json(), status, mimetype="application/json")


def _maybe_user(user: User | None) -> api.MaybeUser:
    return api.MaybeUser(user=None if user is None else api.UserBody.of(user))


@bp.post("/users/authenticate")
async def authenticate() -> Response:
    body = _body(api.Credentials)
    user = await user_store().authenticate(normalize_username(body.username), body.password)
    return _answer(200, _maybe_user(user))


@bp.post("/users")
async def create_user() -> Response:
    body = _body(api.Credentials)
    username = normalize_username(body.username)
    if problem := validate_username(username):
        return json_error(422, problem)
    if problem := _password_problem(body.password, username=username):
        return json_error(422, problem)
    try:
        user = await user_store().create_user(username, body.password)
    except UsernameTaken:
        return json_error(409, f"user {username!r} exists already")
    return _answer(201, api.CreatedUser(user=api.UserBody.of(user)))


@bp.post("/logins")
async def start_login() -> Response:
    body = _body(api.StartLogin)
    lifetime = timedelta(seconds=body.lifetime_seconds)
    token = await user_store().start_login(body.user.to_user(), lifetime)
    return _answer(201, api.StartedLogin(token=token))


@bp.post("/logins/lookup")
async def lookup_login() -> Response:
    body = _body(api.LoginToken)
    return _answer(200, _maybe_user(await user_store().user_for_login(body.token)))


@bp.post("/logins/end")
async def end_login() -> Response:
    await user_store().end_login(_body(api.LoginToken).token)
    return Response(status=204)


@bp.get("/ping")
async def ping() -> Response:
    await user_store().ping()
    return _answer(200, api.Pong(status="ok"))


@bp.post("/accounts/lookup")
async def account() -> Response:
    found = await user_store().account(_body(api.AccountName).username)
    return _answer(
        200, api.MaybeAccount(account=None if found is None else api.AccountBody.of(found))
    )


@bp.get("/accounts")
async def accounts() -> Response:
    listed = await user_store().accounts()
    return _answer(200, api.AccountList(accounts=[api.AccountBody.of(a) for a in listed]))


@bp.post("/users/password")
async def set_password() -> Response:
    body = _body(api.NewPassword)
    # By id: "not the username" is the caller's check, which knows the name (same rules).
    if problem := _password_problem(body.password, username=""):
        return json_error(422, problem)
    await user_store().set_password(body.user_id, body.password)
    return Response(status=204)


@bp.post("/users/active")
async def set_active() -> Response:
    body = _body(api.Activity)
    await user_store().set_active(body.user_id, body.active)
    return Response(status=204)


@bp.post("/users/delete")
async def delete_user() -> Response:
    await user_store().delete_user(_body(api.UserId).user_id)
    return Response(status=204)


@bp.post("/tokens")
async def create_token() -> Response:
    body = _body(api.NewToken)
    token, secret = await user_store().create_access_token(
        body.user_id, body.name, body.scopes, body.expires_at
    )
    return _answer(201, api.CreatedToken(token=api.AccessTokenBody.of(token), secret=secret))


@bp.post("/tokens/list")
async def list_tokens() -> Response:
    tokens = await user_store().access_tokens(_body(api.UserId).user_id)
    return _answer(200, api.TokenList(tokens=[api.AccessTokenBody.of(t) for t in tokens]))


@bp.post("/tokens/revoke")
async def revoke_token() -> Response:
    body = _body(api.TokenRef)
    revoked = await user_store().revoke_access_token(body.user_id, body.token_id)
    return _answer(200, api.Revoked(revoked=revoked))


@bp.post("/tokens/lookup")
async def lookup_token() -> Response:
    found = await user_store().user_for_access_token(_body(api.LoginToken).token)
    body = None if found is None else api.TokenUserBody.of(found)
    return _answer(200, api.MaybeTokenUser(found=body))


def _password_problem(password: str, *, username: str) -> str | None:
    """This service's rules for a new password, whichever service asks for it."""
    minimum = current_settings().password_min_length
    return password_problem(password, username=username, min_length=minimum)


def init_app(app: Flask) -> None:
    """Register the API if ``USERS_API_TOKEN`` is set; otherwise its paths do not exist."""
    with app.app_context():
        token = current_settings().users_api_token
    if token is not None and token.get_secret_value():
        app.register_blueprint(bp)
        # Its bearer token is the service token, not a user's access token.
        principals.OWN_BEARER_TOKENS.add(bp.name)
