"""The JSON bodies of the web API, as pydantic models: views validate with them and the OpenAPI
document (``openapi.py``) is made from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..users.models import PASSWORD_MAX_LENGTH, SCOPE_PATTERN, USERNAME_MAX_LENGTH


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
