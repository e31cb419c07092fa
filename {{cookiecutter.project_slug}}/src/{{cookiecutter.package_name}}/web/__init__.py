"""The web layer: views, request hooks and error answers. Teams add their blueprints here.

It reaches users and shared clients through :mod:`..resources` and the bridge's ``run``; it
never imports a database driver or an HTTP library itself (import-linter checks that).
"""

from __future__ import annotations

from flask import Flask

from . import auth, errors, health, security, upstream
from .cookie_session import CachedSerializerSessionInterface
from .json_provider import JSONProvider


def init_app(app: Flask) -> None:
    """Register the error answers, security hooks, session interface and blueprints."""
    app.json = JSONProvider(app)
    app.session_interface = CachedSerializerSessionInterface()
    errors.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(upstream.bp)
