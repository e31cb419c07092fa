"""What the harness measures: the cells (an endpoint at a number of connections) and variants."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
SCRATCH = BENCH / ".scratch"
RESULTS = BENCH / "results"
PACKAGE = "my_service"
ENV_PREFIX = "MY_SERVICE_"
UPSTREAM_DELAY = 0.05
#: wrk counts a request that takes longer than this as an error (timeout); the service's own
#: default upstream read timeout is the same.
TIMEOUT = 5
USER_AGENT = "async-flask-service-bench"
USERNAME = "bench"
PASSWORD = "bench-password-0123"
#: What Hypercorn serves for each variant. The references live in ``bench/apps`` and import
#: nothing from the service.
VARIANTS = {
    "baked": f"{PACKAGE}.asgi:app",
    "quart": "quart_app:app",
    "fastapi": "fastapi_app:app",
    "stock": "stock_app:app",
}
TRANSPORTS = ("aiohttp", "httpx")
#: The user stores the bench can bake the service with (its ``user_store`` answer), and the
#: variants each can run: stock Flask runs every async view on a throwaway event loop, so it
#: cannot share an asyncpg pool, and no sync PostgreSQL driver is among the bench's packages.
STORES = {
    "sqlite": tuple(VARIANTS),
    "postgres": ("baked", "quart", "fastapi"),
}
#: The machine's PostgreSQL server (trust auth); ``--store postgres`` makes a database on it.
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
#: The response headers every variant must send alike (their values are compared too).
COMPARED_HEADERS = (
    "content-type",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
    "cross-origin-opener-policy",
    "cache-control",
)


@dataclass(frozen=True)
class Cell:
    name: str
    path: str
    connections: int
    #: The JSON every variant must answer with, checked before each measurement, so that a
    #: variant cannot look fast by answering something else (an error, say).
    expect: Any
    method: str = "GET"
    body: str = ""
    #: How the cell's requests authenticate: a logged-in session's cookie, or an access token
    #: in ``Authorization: Bearer`` (made with the service's CLI, looked up alike by all).
    cookie: bool = False
    bearer: bool = False
    upstream: bool = False


UPSTREAM_ANSWER = {"upstream": {"ok": True}, "upstream_status": 200}
USER_ANSWER = {"id": 1, "username": USERNAME}
LOGIN = json.dumps({"username": USERNAME, "password": PASSWORD})
CELLS = [
    Cell("json", "/healthz", 50, {"status": "ok"}),
    Cell("up10", "/upstream", 10, UPSTREAM_ANSWER, upstream=True),
    Cell("up100", "/upstream", 100, UPSTREAM_ANSWER, upstream=True),
    Cell("up400", "/upstream", 400, UPSTREAM_ANSWER, upstream=True),
    Cell("me", "/auth/me", 100, USER_ANSWER, cookie=True),
    Cell("me-bearer", "/auth/me", 100, USER_ANSWER, bearer=True),
    Cell("login", "/auth/login", 20, USER_ANSWER, method="POST", body=LOGIN),
]
