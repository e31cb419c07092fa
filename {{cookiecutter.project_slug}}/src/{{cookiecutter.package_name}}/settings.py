"""Service settings, read from the environment and a ``.env`` file.

Every setting is an environment variable with the ``{{ cookiecutter.__env_prefix }}`` prefix, so
several services can share one shell or one ``.env`` without clashing. Two profiles exist:
``development`` (the default, for a laptop) and ``production``. Production refuses to start with
an unsafe secret key or with debug on, because both mistakes are silent until they are exploited.
"""

from __future__ import annotations

import importlib.util
import math
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "{{ cookiecutter.__env_prefix }}"

#: Values people paste from tutorials; a production key equal to one of these is refused.
KNOWN_UNSAFE_SECRETS = frozenset(
    {"", "change-me", "changeme", "secret", "dev", "development", "password", "test", "key"}
)
#: URL schemes of the stdlib ``sqlite3`` driver, the one the user store uses.
SQLITE_URL_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
#: Shortest production key accepted: 32 characters of ``secrets.token_urlsafe`` carry 192 bits.
MIN_SECRET_LENGTH = 32
#: What ``TRACING_ENABLED`` imports (``observability/tracing.py``); the ``tracing`` extra.
TRACING_MODULES = (
    "opentelemetry.sdk",
    "opentelemetry.exporter.otlp.proto.http",
    "opentelemetry.instrumentation.flask",
    "opentelemetry.instrumentation.httpx",
)


class UnsafeConfiguration(ValueError):
    """Raised when production settings would run the service insecurely."""


class Settings(BaseSettings):
    """All configuration of the service; one instance is built per app."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    env: Literal["development", "production"] = "development"
    debug: bool = False
    secret_key: SecretStr = SecretStr("")

{%- if cookiecutter.user_store == "sqlite" %}
    #: SQLAlchemy URL of the SQLite user store; a relative path is relative to the cwd.
    database_url: str = "sqlite:///instance/{{ cookiecutter.package_name }}.sqlite3"
    #: Seconds a request waits for a pooled database connection before answering 503.
    database_timeout: float = Field(default=5.0, gt=0)
    #: Threads (and pooled connections) that run the user store's queries off the event loop.
    #: A few suit one worker: the queries hold the GIL for most of their time, so more threads
    #: mostly contend with the event loop.
    database_threads: int = Field(default=2, ge=1)
{%- elif cookiecutter.user_store == "postgres" %}
    #: The PostgreSQL user store: ``postgresql://user[:password]@host[:port]/database``.
    database_url: str = "postgresql://postgres@127.0.0.1:5432/{{ cookiecutter.package_name }}"
    #: Connections each worker keeps to PostgreSQL; all workers of all instances together must
    #: stay under the server's ``max_connections``.
    database_pool_size: int = Field(default=10, ge=1)
    #: Seconds a store call may take in all (waiting for a pooled connection, connecting,
    #: the query) before the request answers 503.
    database_timeout: float = Field(default=5.0, gt=0)
{%- elif cookiecutter.user_store == "http" %}
    #: The user service this service asks for users and logins (its internal users API),
    #: such as another service made from this template with ``USERS_API_TOKEN`` set.
    user_service_url: str = "http://127.0.0.1:8001/"
    #: The bearer token the user service expects (its ``USERS_API_TOKEN``).
    user_service_token: SecretStr = SecretStr("")
    #: Seconds a call to the user service may take in all, retries included, before 503.
    user_service_timeout: float = Field(default=5.0, gt=0)
    #: Seconds to open a connection to the user service.
    user_service_connect_timeout: float = Field(default=2.0, gt=0)
    #: Extra attempts for a call that could not connect; only calls safe to repeat retry.
    user_service_retries: int = Field(default=2, ge=0)
{%- endif %}
{%- if cookiecutter.user_store != "http" %}
    #: Password hashes (logins, new users) computed at once. Each holds 64 MiB while it runs
    #: and already spreads over 4 threads (argon2id's lanes): one or two per core keep the
    #: cores busy, and more only add memory (``users/passwords.py``).
    password_hash_threads: int = Field(default=2, ge=1)
    #: Turns on the internal users API (``/internal/users/...``) for services whose user store
    #: is this one; callers send it as a bearer token. Unset, the API answers 404.
    users_api_token: SecretStr | None = None
{%- endif %}

    #: Seconds ``/readyz`` waits for the user store before answering 503.
    readiness_timeout: float = Field(default=2.0, gt=0)

    #: URL the example ``/upstream`` endpoint calls through the shared HTTP client.
    upstream_url: str = "http://127.0.0.1:8081/"
    upstream_connect_timeout: float = Field(default=2.0, gt=0)
    upstream_read_timeout: float = Field(default=5.0, gt=0)
    #: Connections the shared client keeps open; sized for one worker's concurrency.
    upstream_max_connections: int = Field(default=100, ge=1)
    #: The wire under the shared ``httpx.AsyncClient``: ``aiohttp`` (httpx-aiohttp's
    #: transport) or ``httpx`` (httpx's own, which can also speak HTTP/2); see ``clients/http.py``.
    upstream_transport: Literal["aiohttp", "httpx"] = "aiohttp"

    #: Seconds a worker keeps serving after SIGTERM, ``/readyz`` answering 503, so that load
    #: balancers stop sending it traffic before it stops accepting (``python -m ... serve``).
    shutdown_delay: float = Field(default=5.0, ge=0)

    #: Worker threads that run sync (possibly blocking) views off the event loop.
    sync_view_threads: int = Field(default=32, ge=1)
    #: Largest request body accepted, in bytes; larger bodies get 413 before they are read.
    max_content_length: int = Field(default=1024 * 1024, ge=1024)

    #: How long a login lasts without "remember me", and with it. ``SESSION_LIFETIME`` is
    #: still read, as the old name of ``LOGIN_LIFETIME``.
    login_lifetime: timedelta = Field(
        default=timedelta(hours=12),
        validation_alias=AliasChoices(
            "login_lifetime", f"{ENV_PREFIX}LOGIN_LIFETIME", f"{ENV_PREFIX}SESSION_LIFETIME"
        ),
    )
    remember_lifetime: timedelta = timedelta(days=14)
    #: Failed logins allowed per client address and username (``limits`` syntax).
    login_rate_limit: str = "10 per minute"
    #: Where failed-login counters live: ``memory://`` per worker process, or ``redis://host:6379``
    #: shared by every worker and instance.
    rate_limit_storage_uri: str = "memory://"

    #: Other origins (``https://app.example.com``) allowed to send state-changing requests.
    trusted_origins: list[str] = []
    #: How many proxies in front of the service append to ``X-Forwarded-For``/``-Proto``/``-Host``
    #: (a load balancer: 1). The client address, scheme and host are then taken from those
    #: headers, that many entries from the right; 0 ignores them, as a client can write them.
    trusted_proxy_hops: int = Field(default=0, ge=0)
    #: Shortest password ``users create`` accepts (OWASP Authentication Cheat Sheet: 8).
    password_min_length: int = Field(default=8, ge=8)

    #: ``json`` for log collectors, ``console`` for people.
    log_format: Literal["json", "console"] = "console"
    #: One ``request`` event per request (``observability/requests.py``); off if a proxy logs.
    access_log: bool = True
    #: Turns on Prometheus metrics and ``GET /metrics``, which scrapers call with it as a bearer
    #: token. Unset, nothing is counted and ``/metrics`` answers 404.
    metrics_token: SecretStr | None = None
    #: OpenTelemetry traces (the ``tracing`` extra); ``OTEL_*`` variables configure the rest.
    tracing_enabled: bool = False

    @property
    def is_production(self) -> bool:
        return self.env == "production"
{% if cookiecutter.user_store == "sqlite" %}
    @field_validator("database_url")
    @classmethod
    def _sqlite_only(cls, url: str) -> str:
        # The store drives SQLite with the stdlib driver from a pool of connections
        # (users/sql/); an in-memory database would be a different one per connection.
        if not url.startswith(SQLITE_URL_PREFIXES) or sqlite_path(url) is None:
            raise ValueError("must be a SQLite file URL such as sqlite:///instance/users.sqlite3")
        return url
{%- elif cookiecutter.user_store == "postgres" %}
    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, url: str) -> str:
        # The store picks its driver (asyncpg); a driver named in the URL is dropped.
        scheme, separator, rest = url.partition("://")
        if not separator or scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise ValueError("must be a PostgreSQL URL such as postgresql://user@host:5432/db")
        return f"postgresql://{rest}"
{%- elif cookiecutter.user_store == "http" %}
    @field_validator("user_service_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url.rstrip("/") + "/"
{%- endif %}

    @field_validator("tracing_enabled")
    @classmethod
    def _tracing_installed(cls, enabled: bool) -> bool:
        if enabled and not all(map(_importable, TRACING_MODULES)):
            raise ValueError(
                "needs the tracing extra: pip install '{{ cookiecutter.project_slug }}[tracing]'"
                " (uv sync --extra tracing)"
            )
        return enabled

    @field_validator("trusted_origins")
    @classmethod
    def _origins_without_trailing_slash(cls, origins: list[str]) -> list[str]:
        return [origin.rstrip("/") for origin in origins]

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.is_production:
            check_production_safety(self)
        return self

    def flask_config(self) -> dict[str, object]:
        """Flask's and Flask-Login's own config keys, set from these settings, hardened per OWASP.

        Only keys that Flask or an extension reads go here; the service's own code reads this
        object (``resources.current_settings()``), never a copy of its fields in ``app.config``.
        """
        production = self.is_production
        # ``__Host-`` cookies are only accepted over HTTPS, for the exact host, on path ``/``:
        # a sibling subdomain cannot plant or overwrite them (OWASP session management).
        prefix = "__Host-" if production else ""
        return {
            "SECRET_KEY": self.secret_key.get_secret_value(),
            "DEBUG": self.debug,
            "MAX_CONTENT_LENGTH": self.max_content_length,
            "SESSION_COOKIE_NAME": f"{prefix}session",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SECURE": production,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "PERMANENT_SESSION_LIFETIME": self.login_lifetime,
            "REMEMBER_COOKIE_NAME": f"{prefix}remember",
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SECURE": production,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "REMEMBER_COOKIE_DURATION": self.remember_lifetime,
        }


def check_production_safety(settings: Settings) -> None:
    """Raise :class:`UnsafeConfiguration` naming the first unsafe production setting."""
    secret = settings.secret_key.get_secret_value()
    name = f"{ENV_PREFIX}SECRET_KEY"
    if secret.strip().lower() in KNOWN_UNSAFE_SECRETS:
        raise UnsafeConfiguration(f"{name} is unset or a known placeholder")
    if len(secret) < MIN_SECRET_LENGTH:
        raise UnsafeConfiguration(f"{name} must be at least {MIN_SECRET_LENGTH} characters")
    if _entropy_bits(secret) < 128:
        raise UnsafeConfiguration(f"{name} is too predictable; use secrets.token_urlsafe(48)")
    if settings.debug:
        raise UnsafeConfiguration(f"{ENV_PREFIX}DEBUG must be off in production")
{%- if cookiecutter.user_store == "http" %}
    if not settings.user_service_token.get_secret_value():
        raise UnsafeConfiguration(f"{ENV_PREFIX}USER_SERVICE_TOKEN must be set in production")
{%- else %}
    _check_token(settings.users_api_token, "USERS_API_TOKEN")
{%- endif %}
    _check_token(settings.metrics_token, "METRICS_TOKEN")


def _check_token(token: SecretStr | None, name: str) -> None:
    if token is not None and len(token.get_secret_value()) < MIN_SECRET_LENGTH:
        name = f"{ENV_PREFIX}{name}"
        raise UnsafeConfiguration(f"{name} must be at least {MIN_SECRET_LENGTH} characters")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def _entropy_bits(value: str) -> float:
    """Shannon entropy of ``value`` times its length: catches ``aaaa…`` and ``abab…`` keys."""
    counts = Counter(value)
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return per_char * len(value)


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split(":///", 1)[1] if ":///" in database_url else ""
    return Path(path) if path and path != ":memory:" else None
