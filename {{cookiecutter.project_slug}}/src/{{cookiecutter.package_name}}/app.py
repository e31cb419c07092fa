"""The application factory."""

from __future__ import annotations

import gc
import secrets

import structlog

from . import auth, cli, health, security, upstream
from .errors import register_error_handlers
from .logs import configure_logging
from .resources import EXTENSION_KEY, Resources
from .runtime import LoopFlask
from .sessions import CachedSerializerSessionInterface
from .settings import ENV_PREFIX, Settings

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None) -> LoopFlask:
    """Build the app. Settings come from the environment and ``.env`` unless given.

    Production settings that are unsafe raise here, so the server refuses to start.
    """
    settings = settings or Settings()
    configure_logging(settings.log_format, debug=settings.debug)
    app = LoopFlask(__name__, sync_view_threads=settings.sync_view_threads)
    app.config.update(settings.flask_config())
    app.session_interface = CachedSerializerSessionInterface()
    if not app.config["SECRET_KEY"]:
        # Only reachable in development (production refuses an empty key in Settings).
        app.config["SECRET_KEY"] = secrets.token_urlsafe(48)
        log.warning(f"{ENV_PREFIX}SECRET_KEY is unset: sessions will not survive a restart")

    resources = Resources(settings)
    app.extensions[EXTENSION_KEY] = resources

    async def open_resources() -> None:
        resources.open()
        freeze_startup_heap()

    app.startup_hooks.append(open_resources)
    app.shutdown_hooks.append(resources.aclose)

    register_error_handlers(app)
    security.init_app(app, settings.trusted_origins)
    auth.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(upstream.bp)
    cli.init_app(app)
    return app


def freeze_startup_heap() -> None:
    """Exempt what start-up built from garbage collection, which would walk it over and over.

    Python's full collections walk every tracked object, and after start-up most of those are
    the imported modules, the app and its clients, which live as long as the worker. Under
    load, requests in flight keep enough objects alive to set off a full collection every
    thousand or so requests; walking the whole start-up heap each time cost 30-50 ms, a pause
    for every request in flight (measured with the template's bench/wait_cost.py).
    ``gc.freeze`` moves the survivors of one last collection to a generation that is never
    collected; garbage the service makes later is collected as before.
    """
    gc.collect()
    gc.freeze()
