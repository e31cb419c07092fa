"""Cross-site request forgery defence, safe redirects and security headers.

CSRF: state-changing requests from another site are refused using Fetch Metadata
(``Sec-Fetch-Site``), falling back to ``Origin`` and then ``Referer`` for browsers that do not
send it, as the OWASP CSRF Prevention Cheat Sheet describes and Go's
``net/http.CrossOriginProtection`` implements. A request with none of these headers comes from
a non-browser client, which holds no victim's cookies, so it passes. Session cookies are also
``SameSite=Lax``. This covers JSON and form posts alike without a token the API's JSON clients
would have to fetch first.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, abort, request
from werkzeug.datastructures import Headers

from ..resources import current_settings
from .principals import bearer_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def refuse_cross_site_requests() -> None:
    """``before_request`` hook: 403 for a browser's cross-site state-changing request.

    A request with a bearer token is exempt: no browser attaches one by itself, and such a
    request is judged by its token alone, never by its cookies.
    """
    if request.method in SAFE_METHODS or bearer_token() is not None:
        return
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        if fetch_site in ("same-origin", "none") or _trusted(request.headers.get("Origin")):
            return
        abort(403, "Cross-site requests may not change state.")
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is not None and not (_same_host(source) or _trusted(source)):
        abort(403, "Cross-origin requests may not change state.")


def _same_host(url: str) -> bool:
    # Compare hosts, not schemes: behind a TLS-terminating proxy the app sees plain http.
    return urlsplit(url).netloc == request.host


def _trusted(origin: str | None) -> bool:
    if not origin:
        return False
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in current_settings().trusted_origins


def safe_redirect_target(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default``: no open redirects.

    Flask-Login never checks ``next`` ("You MUST validate the value of the next parameter").
    Only local paths pass: no scheme, no host, no ``//host`` or ``/\\host`` (browsers read a
    backslash as a slash), and no control characters.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


#: OWASP HTTP Headers Cheat Sheet defaults for an API, on every response that lacks them.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def add_security_headers(response: Response) -> Response:
    """``after_request`` hook: :data:`SECURITY_HEADERS`, no caching of /auth, HSTS on HTTPS."""
    on_auth = request.url_rule is not None and request.url_rule.rule.startswith("/auth")
    https = current_settings().is_production
    fill_security_headers(response.headers, on_auth=on_auth, https=https)
    return response


def fill_security_headers(headers: Headers, *, on_auth: bool, https: bool) -> None:
    """Add the security headers ``headers`` lacks; a header already set, in any case, stays."""
    # The names present, read once: Werkzeug's ``name in headers`` and ``setdefault`` raise and
    # catch an exception for every header that is missing, which here is most of them.
    present = {name.lower() for name, _ in headers}
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if on_auth and "cache-control" not in present:
        headers.add("Cache-Control", "no-store")
    if https and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", "max-age=63072000; includeSubDomains")


def init_app(app: Flask) -> None:
    app.before_request(refuse_cross_site_requests)
    app.after_request(add_security_headers)
