"""Flask's signed-cookie session, with its serializer built once instead of per request.

Flask opens the session on every request, and its ``SecureCookieSessionInterface`` builds a
new itsdangerous serializer each time it opens or saves one; the constructor even serializes
a probe value to learn whether the payload is text. This keeps one per set of keys, so key
rotation (``SECRET_KEY`` with ``SECRET_KEY_FALLBACKS``) still takes effect at once. Cookies,
signatures and expiry are exactly Flask's; a request authenticated by an access token gets no
cookie at all.
"""

from __future__ import annotations

from flask import Flask, g
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer

Keys = tuple[str | bytes | None, tuple[str | bytes, ...]]


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """``SecureCookieSessionInterface`` that reuses its serializer while the keys are unchanged."""

    def __init__(self) -> None:
        self._cached: tuple[Keys, URLSafeTimedSerializer | None] | None = None

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        """Never for a request an access token authenticated: programs get no cookies."""
        if g.get("authenticated_by_token"):
            return False
        return super().should_set_cookie(app, session)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys: Keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._cached
        if cached is None or cached[0] != keys:
            # One tuple, replaced whole: concurrent requests see the old pair or the new one.
            cached = self._cached = (keys, super().get_signing_serializer(app))
        return cached[1]
