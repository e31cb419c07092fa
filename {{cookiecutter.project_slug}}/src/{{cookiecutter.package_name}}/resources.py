"""The long-lived clients one worker process shares: the user store and an HTTP client.

They are opened once, at ASGI lifespan startup, on Hypercorn's loop, and closed at shutdown;
every request then reuses them (pooled keep-alive connections only save anything if they
outlive a request, and so does a database pool). The HTTP client is bound to the loop it is
created on, which is why ``runtime.py`` makes sure all coroutines run on that one loop; the
store's connections live in its own threads (``sql_store.py``) and are bound to no loop.

Without a server (Flask's test client, the CLI) nothing calls startup: the first use opens them
on the runtime's background loop instead, with an unpooled engine and that loop's default
threads, so that no connection outlives the call that used it and nothing needs closing.
"""

from __future__ import annotations

import threading

import aiohttp
from flask import current_app

from .http_client import new_client
from .settings import Settings
from .sql_store import SQLUserStore, create_engine
from .throttle import LoginThrottle
from .users import UserStore

EXTENSION_KEY = "{{ cookiecutter.package_name }}.resources"


class Resources:
    """Holds the shared clients of one app; see the module docstring for their lifetime."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: UserStore | None = None
        self._http: aiohttp.ClientSession | None = None
        self._lock = threading.Lock()
        #: Failed-login counters; in memory per worker unless the storage URI names Redis.
        self.login_throttle = LoginThrottle(
            settings.login_rate_limit, settings.rate_limit_storage_uri
        )

    def open(self) -> None:
        """Create both clients for a server: a pooled engine and the HTTP client.

        Synchronous, but called on the server's loop (the HTTP client binds to the loop running
        when it is made); no connection opens until first use.
        """
        with self._lock:
            self._store = self._store or self._new_store(pooled=True)
            self._http = self._http or self._new_http()

    def _new_store(self, *, pooled: bool) -> UserStore:
        engine = create_engine(self.settings, pooled=pooled)
        if not pooled:
            return SQLUserStore(engine)
        return SQLUserStore(
            engine,
            threads=self.settings.database_threads,
            password_threads=self.settings.password_hash_threads,
        )

    def _new_http(self) -> aiohttp.ClientSession:
        return new_client(
            connect_timeout=self.settings.upstream_connect_timeout,
            read_timeout=self.settings.upstream_read_timeout,
            max_connections=self.settings.upstream_max_connections,
        )

    async def aclose(self) -> None:
        with self._lock:
            store, http = self._store, self._http
            self._store = self._http = None
        if http is not None:
            await http.close()
        if store is not None:
            await store.close()

    @property
    def store(self) -> UserStore:
        """The user store; without a server, an unpooled one made on first use."""
        with self._lock:
            self._store = self._store or self._new_store(pooled=False)
            return self._store

    @property
    def http(self) -> aiohttp.ClientSession:
        """The shared HTTP client; without a server, made on first use."""
        with self._lock:
            self._http = self._http or self._new_http()
            return self._http


def resources() -> Resources:
    """The current app's resources."""
    res: Resources = current_app.extensions[EXTENSION_KEY]
    return res


def user_store() -> UserStore:
    return resources().store


def http_client() -> aiohttp.ClientSession:
    return resources().http


def login_throttle() -> LoginThrottle:
    return resources().login_throttle
