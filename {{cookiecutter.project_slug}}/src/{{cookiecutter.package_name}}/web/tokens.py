"""Access tokens for programs: made by a logged-in user for themself, listed, revoked.

The token is random, shown once in the answer to ``POST /auth/tokens``, and kept only as a hash
by the store. Only a browser's login may make one (a token cannot mint tokens); a token may list
and revoke its user's tokens. Each creation and revocation is an audit event.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, Response
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..audit import audit
from ..resources import user_store
from ..users import AccessToken
from ..users.logins import now as utc_now
from .errors import json_error
from .openapi import documented
from .principals import login_required, login_required_by_browser
from .schemas import ErrorBody, TokenCreated, TokenList, TokenOut, TokenRequest, json_body

bp = Blueprint("tokens", __name__, url_prefix="/auth/tokens")


@bp.post("")
@login_required_by_browser
@documented(
    "Make an access token for the logged-in user; its secret is in this answer only.",
    body=TokenRequest,
    tags=("tokens",),
    security=("session",),
    responses={
        201: ("Made.", TokenCreated),
        400: ("The body is not a JSON object.", ErrorBody),
        401: ("Not logged in.", ErrorBody),
        403: ("An access token may not make tokens.", ErrorBody),
        415: ("Not JSON.", ErrorBody),
        422: ("A field missing or out of bounds.", ErrorBody),
        503: ("The user store is not available.", ErrorBody),
    },
)
async def create_token() -> ResponseReturnValue:
    wanted = json_body(TokenRequest, "token request")
    expires_at = (
        None if wanted.expires_in is None else utc_now() + timedelta(seconds=wanted.expires_in)
    )
    scopes = tuple(dict.fromkeys(wanted.scopes))
    token, secret = await user_store().create_access_token(
        current_user.id, wanted.name, scopes, expires_at
    )
    audit("token.create", "success", user_id=current_user.id)
    made = TokenCreated(
        id=token.id,
        token=secret,
        name=token.name,
        scopes=list(token.scopes),
        expires_at=token.expires_at,
    )
    return Response(made.model_dump_json(), 201, mimetype="application/json")


@bp.get("")
@login_required
@documented(
    "The logged-in user's access tokens, without their secrets.",
    tags=("tokens",),
    security=("session", "bearer"),
    responses={
        200: ("The tokens.", TokenList),
        401: ("Not logged in.", ErrorBody),
        503: ("The user store is not available.", ErrorBody),
    },
)
async def list_tokens() -> Response:
    tokens = await user_store().access_tokens(current_user.id)
    listed = TokenList(tokens=[_out(token) for token in tokens])
    return Response(listed.model_dump_json(), mimetype="application/json")


@bp.delete("/<int:token_id>")
@login_required
@documented(
    "Revoke one of the logged-in user's access tokens.",
    tags=("tokens",),
    security=("session", "bearer"),
    responses={
        204: ("Revoked.", None),
        401: ("Not logged in.", ErrorBody),
        404: ("The user has no such token.", ErrorBody),
        503: ("The user store is not available.", ErrorBody),
    },
)
async def revoke_token(token_id: int) -> ResponseReturnValue:
    if not await user_store().revoke_access_token(current_user.id, token_id):
        return json_error(404, "No such access token.")
    audit("token.revoke", "success", user_id=current_user.id)
    return Response(status=204)


def _out(token: AccessToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        scopes=list(token.scopes),
        created_at=token.created_at,
        expires_at=token.expires_at,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
