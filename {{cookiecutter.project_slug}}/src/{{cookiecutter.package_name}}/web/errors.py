"""Every error leaves the service as JSON, and no traceback ever reaches a client.

Flask's default error pages are HTML and an unhandled exception becomes an HTML 500 (with a
traceback in debug mode). A JSON API's clients need a body they can parse, so every
``HTTPException`` and every unexpected exception is rendered here as
``{"error": {"status": ..., "title": ..., "detail": ...}}``. Unexpected exceptions are logged
with their traceback, server-side only.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import structlog
from flask import Flask, Response
from werkzeug.exceptions import HTTPException, InternalServerError

from ..clients.http import UpstreamError
from ..users import StoreUnavailable
from ..users.throttle import ThrottleUnavailable

log = structlog.get_logger(__name__)


def json_error_body(status: int, detail: str, **extra: Any) -> bytes:
    """The bytes of an error body."""
    error = {"status": status, "title": HTTPStatus(status).phrase, "detail": detail, **extra}
    return json.dumps({"error": error}, separators=(",", ":")).encode()


def json_error(status: int, detail: str, **extra: Any) -> Response:
    return Response(json_error_body(status, detail, **extra), status, mimetype="application/json")


def _http_error(exc: HTTPException) -> Response:
    response = json_error(exc.code or 500, exc.description or "")
    # Keep what the exception wants the client to know (Allow, Retry-After, WWW-Authenticate).
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _store_unavailable(error: StoreUnavailable) -> Response:
    # Nothing was written: store writes are single transactions that roll back on failure.
    log.warning("user store unavailable", error=str(error))
    return _retry_shortly("The user store is not available; try again shortly.")


def _throttle_unavailable(error: ThrottleUnavailable) -> Response:
    # Fail closed: without its counters the login route would allow unlimited guesses.
    log.warning("login throttle unavailable", error=str(error))
    return _retry_shortly("Logins are paused: the login throttle is not available.")


def _upstream_failed(error: UpstreamError) -> Response:
    return json_error(error.status, error.detail, **error.extra)


def _retry_shortly(detail: str) -> Response:
    """503 for a dependency that is down: the client may retry in a few seconds."""
    response = json_error(503, detail)
    response.headers["Retry-After"] = "5"
    return response


def _unexpected_error(exc: Exception) -> Response:
    log.exception("unhandled exception", exc_info=exc)
    return json_error(500, InternalServerError.description)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreUnavailable, _store_unavailable)
    app.register_error_handler(ThrottleUnavailable, _throttle_unavailable)
    app.register_error_handler(UpstreamError, _upstream_failed)
    app.register_error_handler(Exception, _unexpected_error)
