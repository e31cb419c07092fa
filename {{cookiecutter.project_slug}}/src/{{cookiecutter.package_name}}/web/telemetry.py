"""What the web layer adds to the service's observability: each request's route and user, and
``GET /metrics``.

The request observer (``observability/requests.py``) sits outside Flask and cannot see which
URL rule matched or who was authenticated; :func:`note_route_and_user` tells it, at teardown,
for the access log and the metrics. It reads the user Flask-Login already loaded and never
loads one itself, which would cost a store call: a request that never needed its user is
logged without one.

``GET /metrics`` exists only when ``METRICS_TOKEN`` is set (404 otherwise) and answers only a
request with ``Authorization: Bearer <that token>``, compared in constant time (401 otherwise).
It is a GET (the CSRF check never applies), it sets no cookie, and the response is not cached.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, g, request

from ..observability.requests import current_exchange
from ..resources import current_settings, resources
from . import principals
from .errors import json_error

bp = Blueprint("metrics", __name__)


def note_route_and_user(_error: BaseException | None = None) -> None:
    """``teardown_request``: the request's URL rule and authenticated user, for the observer."""
    exchange = current_exchange()
    if exchange is None:  # not served through the observer (Flask's test client)
        return
    rule = request.url_rule
    if rule is not None:
        exchange.route = rule.rule
    user = g.get("_login_user")
    if user is not None and user.is_authenticated:
        exchange.user_id = user.id


@bp.get("/metrics")
def metrics() -> Response:
    # A sync view: adding up every worker's files reads from disk, so it runs in a thread.
    g.authenticated_by_token = True  # judged by its token alone: no session cookie is set
    token = current_settings().metrics_token
    expected = token.get_secret_value().encode() if token is not None else b""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    found = resources().metrics
    if not (
        found is not None
        and expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.encode(), expected)
    ):
        response = json_error(401, "A valid bearer token is required.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = found.render()
    response = Response(body, 200, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Tell the observer each request's route and user; register ``/metrics`` if it is on."""
    app.teardown_request(note_route_and_user)
    with app.app_context():
        metrics_on = resources().metrics is not None
    if metrics_on:
        app.register_blueprint(bp)
        # Its bearer token is the metrics token, not a user's access token.
        principals.OWN_BEARER_TOKENS.add(bp.name)
