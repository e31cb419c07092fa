"""The application factory: settings, logging, shared resources, then the web layer; and the
ASGI application that serves it."""

from __future__ import annotations

import gc
import secrets
from typing import cast

import structlog
from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.typing import ASGIFramework

from . import cli, web
from .bridge import ASGIAdapter, LoopFlask
from .logs import AccessLogger, configure_logging
from .observability.requests import ASGIApp, RequestObserver
from .resources import Resources
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
    if not app.config["SECRET_KEY"]:
        # Only reachable in development (production refuses an empty key in Settings).
        app.config["SECRET_KEY"] = secrets.token_urlsafe(48)
        log.warning(f"{ENV_PREFIX}SECRET_KEY is unset: sessions will not survive a restart")

    Resources(settings).init_app(app)
    web.init_app(app)
    cli.init_app(app)
    # Last, so that it sees everything the start-up functions above built.
    app.before_serving(freeze_startup_heap)
    return app


def asgi_app(app: LoopFlask) -> ASGIApp:
    """What Hypercorn serves: the bridge's adapter for ``app``, inside the request observer
    (request ids, the access log, request metrics), inside Hypercorn's ``ProxyFixMiddleware``
    when ``trusted_proxy_hops`` is set, so that the access log, Flask and the login throttle
    all see the client's address and scheme rather than the proxy's."""
    settings = Resources.of(app).settings
    access_log = (
        AccessLogger(f"{__package__}.access", settings.log_format) if settings.access_log else None
    )
    observer = RequestObserver(
        ASGIAdapter(app), access_log=access_log, metrics=Resources.of(app).metrics
    )
    if not settings.trusted_proxy_hops:
        return observer
    # Hypercorn types its middleware with its own scope and event types; both sides are ASGI.
    inner = cast(ASGIFramework, observer)
    hops = settings.trusted_proxy_hops
    return cast(ASGIApp, ProxyFixMiddleware(inner, mode="legacy", trusted_hops=hops))


async def freeze_startup_heap() -> None:
    """Exempt what start-up built from garbage collection, which would walk it over and over.

    Python's full collections walk every tracked object, and after start-up most of those are
    the imported modules, the app and its clients, which live as long as the worker. Under load,
    requests in flight keep enough objects alive to set off full collections now and then, and
    walking the whole start-up heap each time is a pause for every request in flight.
    ``gc.freeze`` moves the survivors of one last collection to a generation that is never
    collected; garbage the service makes later is collected as before.
    """
    gc.collect()
    gc.freeze()
