"""Login and access tokens, as every store keeps them: random, handed out once, stored as a hash.

A login's token goes into the session and remember-me cookies; an access token goes to its
owner once, for an ``Authorization: Bearer`` header. A store keeps only their SHA-256, so a
leaked database hands out neither live logins nor working tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import overload


def new_token() -> str:
    """A fresh login token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


#: Access tokens start with this, so that secret scanners and people can tell them apart.
ACCESS_TOKEN_PREFIX = "tok_"  # noqa: S105 - a prefix, not a secret


def new_access_token() -> str:
    """A fresh access token: the prefix and 256 random bits, URL-safe."""
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What a store keeps of a token, and looks it up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    """The current time, timezone-aware (UTC), as stores record it."""
    return datetime.now(UTC)


@overload
def utc(moment: datetime) -> datetime: ...
@overload
def utc(moment: None) -> None: ...
def utc(moment: datetime | None) -> datetime | None:
    """``moment`` as an aware UTC datetime; SQLite hands back the naive UTC it stored."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
