"""What one worker process shares across requests: the settings, the user store, the HTTP client,
the failed-login counters, and the metrics and tracing that watch the store and the client.

The clients are opened once, when the worker starts serving, on Hypercorn's loop, and closed when
it stops; every request then reuses them (pooled keep-alive connections only save anything if
they outlive a request, and so does a database pool). The HTTP client is bound to the loop it is
created on, which is why the bridge runs all coroutines on that one loop; the SQL store's
connections live in its own threads and are bound to no loop.

Without a server (Flask's test client, the CLI) nothing starts the worker: the first use opens
them on the bridge's background loop instead, with an unpooled engine and that loop's default
threads, so that no connection outlives the call that used it and nothing needs closing.

Code that handles a request reaches them through the functions at the end of this module.
"""

from __future__ import annotations

import threading

import httpx
import structlog
from flask import current_app

from .bridge import LoopFlask
from .clients.http import new_client
from .observability.calls import timed_calls
from .observability.metrics import Metrics, process_metrics
from .observability.tracing import Tracing
from .settings import Settings
from .users import UserStore
{%- if cookiecutter.user_store == "sqlite" %}
from .users.sql.engine import create_engine
from .users.sql.sqlite import SQLUserStore
{%- elif cookiecutter.user_store == "postgres" %}
from .users.sql.postgres import PostgresUserStore
{%- elif cookiecutter.user_store == "http" %}
from .users.http_store import HTTPUserStore
{%- endif %}
from .users.throttle import LoginThrottle

EXTENSION_KEY = "{{ cookiecutter.package_name }}"

log = structlog.get_logger(__name__)


class Resources:
    """Holds the settings and shared clients of one app; see the module docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: UserStore | None = None
        self._http: httpx.AsyncClient | None = None
        self._lock = threading.Lock()
        #: Failed-login counters; in memory per worker unless the storage URI names Redis.
        self.login_throttle = LoginThrottle(
            settings.login_rate_limit, settings.rate_limit_storage_uri
        )
        token = settings.metrics_token
        #: This process's metrics, when ``METRICS_TOKEN`` turns them on.
        self.metrics: Metrics | None = (
            process_metrics() if token is not None and token.get_secret_value() else None
        )
        #: Traces, when ``TRACING_ENABLED`` turns them on.
        self.tracing = Tracing("{{ cookiecutter.project_slug }}") if settings.tracing_enabled else None

    def init_app(self, app: LoopFlask) -> None:
        """Make these the app's resources, opened and closed with the worker."""
        app.extensions[EXTENSION_KEY] = self
        if self.tracing is not None:
            # First, so that the request's span is current in every other hook.
            self.tracing.instrument_app(app)
            app.after_serving(self.tracing.shutdown)
        app.before_serving(self.open)
        app.after_serving(self.aclose)

    @staticmethod
    def of(app: LoopFlask) -> Resources:
        """The resources of ``app``."""
        found: Resources = app.extensions[EXTENSION_KEY]
        return found

    async def open(self) -> None:
        """Create both clients for a server: a pooled store and the HTTP client.

        Runs on the server's loop (the HTTP client binds to the loop running when it is made);
        no connection opens until first use.
        """
        with self._lock:
            self._http = self._http or self._new_http()
            self._store = self._store or self._observed_store(pooled=True)

    def _observed_store(self, *, pooled: bool) -> UserStore:
        """A new store; with metrics on, each of its calls is timed."""
        store = self._new_store(pooled=pooled)
        if self.metrics is None:
            return store
        return timed_calls(store, self.metrics.observe_store_call)

    def _new_store(self, *, pooled: bool) -> UserStore:
        settings = self.settings
{%- if cookiecutter.user_store == "sqlite" %}
        if not pooled:
            return SQLUserStore(create_engine(settings.database_url, pool_size=None))
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_threads,
            pool_timeout=settings.database_timeout,
        )
        return SQLUserStore(
            engine,
            threads=settings.database_threads,
            password_threads=settings.password_hash_threads,
        )
{%- elif cookiecutter.user_store == "postgres" %}
        return PostgresUserStore(
            settings.database_url,
            pool_size=settings.database_pool_size if pooled else None,
            timeout=settings.database_timeout,
            password_threads=settings.password_hash_threads if pooled else None,
        )
{%- elif cookiecutter.user_store == "http" %}
        del pooled  # the store shares the HTTP client and its pool
        self._http = self._http or self._new_http()
        return HTTPUserStore(
            self._http,
            settings.user_service_url,
            token=settings.user_service_token.get_secret_value(),
            timeout=settings.user_service_timeout,
            connect_timeout=settings.user_service_connect_timeout,
            retries=settings.user_service_retries,
        )
{%- endif %}

    def _new_http(self) -> httpx.AsyncClient:
        settings = self.settings
        client = new_client(
            connect_timeout=settings.upstream_connect_timeout,
            read_timeout=settings.upstream_read_timeout,
            max_connections=settings.upstream_max_connections,
            transport=settings.upstream_transport,
            observe=None if self.metrics is None else self.metrics.observe_upstream_call,
        )
        if self.tracing is not None:
            self.tracing.instrument_client(client)
        return client

    async def aclose(self) -> None:
        with self._lock:
            store, http = self._store, self._http
            self._store = self._http = None
        if http is not None:
            await http.aclose()
        if store is not None:
            await store.close()
        log.info("shared clients closed")

    @property
    def store(self) -> UserStore:
        """The user store; without a server, an unpooled one made on first use."""
        with self._lock:
            self._store = self._store or self._observed_store(pooled=False)
            return self._store

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared HTTP client; without a server, made on first use."""
        with self._lock:
            self._http = self._http or self._new_http()
            return self._http


def resources() -> Resources:
    """The current app's resources."""
    found: Resources = current_app.extensions[EXTENSION_KEY]
    return found


def current_settings() -> Settings:
    """The current app's settings: the one typed object every module reads."""
    return resources().settings


def user_store() -> UserStore:
    return resources().store


def http_client() -> httpx.AsyncClient:
    return resources().http


def login_throttle() -> LoginThrottle:
    return resources().login_throttle
