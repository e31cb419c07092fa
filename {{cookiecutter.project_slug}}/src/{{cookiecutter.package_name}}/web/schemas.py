"""The JSON bodies of the web API, as pydantic models: views validate with them
(:func:`json_body`) and the OpenAPI document (``openapi.py``) is made from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

from flask import abort, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..users.models import PASSWORD_MAX_LENGTH, SCOPE_PATTERN, USERNAME_MAX_LENGTH
from .errors import json_error

M = TypeVar("M", bound=BaseModel)


def json_body(model: type[M], what: str) -> M:
    """This request's JSON object as ``model``, or a JSON error that ends the request: 415 if
    it is not JSON, 400 if it is not an object, 422 ("Invalid <what>.") listing the fields at
    fault, never their values."""
    if not request.is_json:
        _refuse(415, "Send JSON.")
    body = request.get_json()
    if not isinstance(body, dict):
        _refuse(400, "The JSON body must be an object.")
    try:
        return model.model_validate(body)
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False, include_context=False)
        _refuse(422, f"Invalid {what}.", fields=details)


def _refuse(status: int, detail: str, **extra: Any) -> NoReturn:
    abort(json_error(status, detail, **extra))


class LoginRequest(BaseModel):
    """``POST /auth/login``, as JSON or as form fields."""

    model_config = ConfigDict(extra="ignore")

    username: str = Field(min_length=1, max_length=USERNAME_MAX_LENGTH)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    remember: bool = False


class UserOut(BaseModel):
    """Who is logged in."""

    id: int
    username: str


class StatusOut(BaseModel):
    """A probe's answer."""

    status: str


class UpstreamOut(BaseModel):
    """What the example upstream call answered."""

    upstream_status: int
    upstream: Any


class ErrorDetail(BaseModel):
    """Every error: its status, the status's title, and what happened. Some errors add fields
    (``fields`` for a 422, ``reason`` for a 503 of ``/readyz``, ``upstream_status``)."""

    model_config = ConfigDict(extra="allow")

    status: int
    title: str
    detail: str


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


#: The longest an access token may live: a year.
MAX_TOKEN_SECONDS = 366 * 24 * 3600


class TokenRequest(BaseModel):
    """``POST /auth/tokens``: a name for the token, its scopes, and how long it lives."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Annotated[str, StringConstraints(pattern=SCOPE_PATTERN)]] = Field(
        default_factory=list, max_length=20
    )
    #: Seconds; absent or null, the token lives until revoked.
    expires_in: int | None = Field(default=None, ge=60, le=MAX_TOKEN_SECONDS)


class TokenOut(BaseModel):
    """An access token, without its secret."""

    id: int
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None


class TokenCreated(BaseModel):
    """A new access token, with its secret: shown this once."""

    id: int
    token: str
    name: str
    scopes: list[str]
    expires_at: datetime | None


class TokenList(BaseModel):
    tokens: list[TokenOut]


class PasswordChange(BaseModel):
    """``POST /auth/password``."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
