"""The long-lived clients one worker process shares: the user store and an HTTP client.

They are opened once, at ASGI lifespan startup, on Hypercorn's loop, and closed at shutdown;
every request then reuses them (an ``httpx2.AsyncClient`` costs ~37 ms of CPU to build, and a
database pool is only a pool if it outlives a request). The HTTP client is bound to the loop it
first runs on, which is why ``runtime.py`` makes sure all coroutines run on that one loop; the
store's connections live in its own threads (``sql_store.py``) and are bound to no loop.

Without a server (Flask's test client, the CLI) nothing calls startup: the first use opens them
on the runtime's background loop instead, with an unpooled engine and that loop's default
threads, so that no connection outlives the call that used it and nothing needs closing.
"""

from __future__ import annotations

import threading

import httpx2
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
        self._http: httpx2.AsyncClient | None = None
        self._lock = threading.Lock()
        #: Failed-login counters; in memory per worker unless the storage URI names Redis.
        self.login_throttle = LoginThrottle(
            settings.login_rate_limit, settings.rate_limit_storage_uri
        )

    def open(self) -> None:
        """Create both clients for a server: a pooled engine and the HTTP client.

        Synchronous, and no connection opens until first use; building the HTTP client does
        cost ~37 ms of CPU (its TLS context), which is why it happens once, here.
        """
        with self._lock:
            self._store = self._store or self._new_store(pooled=True)
            self._http = self._http or self._new_http()

    def _new_store(self, *, pooled: bool) -> UserStore:
        threads = self.settings.database_threads if pooled else None
        return SQLUserStore(create_engine(self.settings, pooled=pooled), threads=threads)

    def _new_http(self) -> httpx2.AsyncClient:
        return new_client(
            timeout=httpx2.Timeout(
                self.settings.upstream_read_timeout,
                connect=self.settings.upstream_connect_timeout,
            ),
            max_connections=self.settings.upstream_max_connections,
        )

    async def aclose(self) -> None:
        with self._lock:
            store, http = self._store, self._http
            self._store = self._http = None
        if http is not None:
            await http.aclose()
        if store is not None:
            await store.close()

    @property
    def store(self) -> UserStore:
        """The user store; without a server, an unpooled one made on first use."""
        with self._lock:
            self._store = self._store or self._new_store(pooled=False)
            return self._store

    @property
    def http(self) -> httpx2.AsyncClient:
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


def http_client() -> httpx2.AsyncClient:
    return resources().http


def login_throttle() -> LoginThrottle:
    return resources().login_throttle
