"""The web layer: views, request hooks and error answers. Teams add their blueprints here.

It reaches users and shared clients through :mod:`..resources` and the bridge's ``run``; it
never imports a database driver or an HTTP library itself (import-linter checks that).
"""

from __future__ import annotations

from flask import Flask

from . import (
    account,
    auth,
    errors,
    health,
    openapi,
    security,
    telemetry,
    tokens,
    upstream,
{%- if cookiecutter.user_store != "http" %}
    users_api,
{%- endif %}
)
from .cookie_session import CachedSerializerSessionInterface
from .json_provider import JSONProvider


def init_app(app: Flask) -> None:
    """Register the error answers, security hooks, session interface and blueprints."""
    app.json = JSONProvider(app)
    app.session_interface = CachedSerializerSessionInterface()
    telemetry.init_app(app)  # /metrics only with METRICS_TOKEN set
    errors.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    tokens.init_app(app)
    account.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(upstream.bp)
{%- if cookiecutter.user_store != "http" %}
    users_api.init_app(app)  # only with USERS_API_TOKEN set
{%- endif %}
    openapi.init_app(app)
