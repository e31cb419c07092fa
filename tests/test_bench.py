"""The benchmark harness (bench/): its stand-in upstream, its reference apps, and short runs.

Numbers are not asserted: this machine is shared and noisy, and timings belong in the
harness's output, not in pass/fail. What is asserted is what makes the comparison fair: every
variant (the baked service and the Quart, FastAPI and stock Flask references, which import
nothing from it) answers every cell with the same JSON and headers, under load, answers its
error cases alike, and the results are written. With ``--store postgres`` the run makes a
PostgreSQL database of its own on the machine's server and drops it, however the run ends.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from conftest import REPO_ROOT
from live import free_port

BENCH = REPO_ROOT / "bench"
sys.path.insert(0, str(BENCH))
from harness.bake import bake, install, prepare_database  # noqa: E402  (bench/ is not a package)
from harness.cells import (  # noqa: E402
    COMPARED_HEADERS,
    ENV_PREFIX,
    POSTGRES_SERVER,
    SCRATCH,
    STORES,
    TRANSPORTS,
    VARIANTS,
    Cell,
)
from harness.database import bench_database, sqlite_url  # noqa: E402
from harness.serve import Setup, call, serving  # noqa: E402
from run import server_env  # noqa: E402


@pytest.fixture
def upstream() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "upstream_server.py"), str(port), "0.2"],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert b"upstream: 127.0.0.1" in process.stdout.readline()  # listening
    yield port
    process.terminate()
    process.wait(timeout=10)


def test_upstream_answers_pipelined_requests_after_its_delay(upstream: int) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", upstream), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(request * 2)  # two requests on one keep-alive connection, pipelined
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 2 or not received.endswith(b"}"):
            received += sock.recv(4096)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.2  # the delay is applied (a lower bound, not a speed threshold)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert b"content-length: 11" in head
    assert rest.startswith(b'{"ok":true}HTTP/1.1 200 OK')


def run_harness(results: Path, *options: str) -> tuple[str, dict[str, Any]]:
    """Run the harness for one second per measurement; its output and the JSON it wrote."""
    command = [sys.executable, str(BENCH / "run.py"), "--duration=1", "--warmup=1", *options]
    result = subprocess.run(
        [*command, f"--results={results}"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (written,) = results.glob("*.json")
    document: dict[str, Any] = json.loads(written.read_text())
    return result.stdout, document


def test_harness_runs_all_variants_on_equal_answers(tmp_path: Path) -> None:
    # me-bearer: every variant authenticates by the access token the service's CLI made.
    output, document = run_harness(tmp_path, "--runs=1", "--cells=json,up10,me-bearer")
    assert "ratios: baked/quart" in output
    assert "baked/fastapi" in output
    assert "baked/stock" in output
    table = document["table"]
    assert set(table) == {"json", "up10", "me-bearer"}
    for cell in table.values():
        for variant in VARIANTS:
            assert cell[variant]["rps"] > 0, (variant, cell)
            assert cell[variant]["errors"] == 0, (variant, cell)  # no 4xx/5xx under load
    # What every variant answered, JSON and headers, was checked equal before it was measured.
    answers = document["answers"]
    assert answers["me-bearer"]["json"] == {"id": 1, "username": "bench"}
    assert answers["me-bearer"]["headers"]["cache-control"] == "no-store"
    assert answers["json"]["headers"]["x-frame-options"] == "DENY"
    assert "baked/limit" in table["up10"]
    assert len(table["me-bearer"]["baked/fastapi by round"]) == 1  # one round, one ratio
    assert document["args"]["transport"] == "aiohttp"


def test_paired_slices_alternate_between_variants_serving_side_by_side(tmp_path: Path) -> None:
    output, document = run_harness(
        tmp_path, "--paired=2", "--cells=me", "--variants=baked,fastapi", "--transport=httpx"
    )
    assert "2 paired slices of 1 s per cell" in output
    assert "upstream transport httpx" in output
    assert "(slices " in output
    me = document["table"]["me"]
    assert len(document["samples"]["baked"]["me"]) == 2  # one sample per slice
    assert len(me["baked/fastapi by round"]) == 2  # one ratio per pair of slices
    for variant in ("baked", "fastapi"):
        assert me[variant]["rps"] > 0, me
        assert me[variant]["errors"] == 0, me


def postgres_databases() -> set[str]:
    """The databases on the machine's PostgreSQL server now."""

    async def names() -> set[str]:
        conn = await asyncpg.connect(f"{POSTGRES_SERVER}/postgres", timeout=10)
        try:
            return {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
        finally:
            await conn.close()

    return asyncio.run(names())


def test_postgres_store_runs_every_variant_on_one_database_then_drops_it(tmp_path: Path) -> None:
    cells = "--cells=me,me-bearer,login"
    output, document = run_harness(tmp_path, "--store=postgres", "--runs=1", cells)
    assert "user store postgres" in output
    table = document["table"]
    for cell in table.values():
        assert {v for v in VARIANTS if v in cell} == set(STORES["postgres"])  # stock sits out
        for variant in STORES["postgres"]:
            assert cell[variant]["rps"] > 0, (variant, cell)
            assert cell[variant]["errors"] == 0, (variant, cell)
    # Every variant logged in and looked the user up in PostgreSQL, answering alike.
    answers = document["answers"]
    assert answers["me"]["json"] == answers["login"]["json"] == {"id": 1, "username": "bench"}
    assert answers["me-bearer"]["json"] == {"id": 1, "username": "bench"}
    assert answers["me"]["headers"]["cache-control"] == "no-store"
    server, _, database = document["database"].rpartition("/")
    assert server == POSTGRES_SERVER
    assert database.startswith("bench_")
    assert database not in postgres_databases()


def test_a_postgres_run_drops_its_database_when_interrupted(tmp_path: Path) -> None:
    """Ctrl-C (SIGTERM too: the harness turns it into SystemExit) while a server still holds
    connections to the run's database: the database is dropped all the same."""
    loop = asyncio.new_event_loop()
    seen: dict[str, Any] = {}

    def interrupted_run() -> None:
        with bench_database("postgres", tmp_path) as url:
            seen["database"] = url.rpartition("/")[2]
            seen["existed"] = seen["database"] in postgres_databases()
            # A connection left open, as by a server killed mid-run.
            seen["held"] = loop.run_until_complete(asyncpg.connect(url))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_run()
    assert seen["existed"]
    assert seen["database"] not in postgres_databases()
    seen["held"].terminate()  # the server has cut it; drop the client's end
    loop.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """The service baked and migrated, its upstream pointing at a port nobody listens on."""
    scratch = tmp_path_factory.mktemp("bench")
    service = bake(scratch, None)
    python = install(service, SCRATCH / "venv")  # the harness's venv, reused if it matches
    env = server_env(sqlite_url(service), free_port(), "aiohttp", [])
    token = prepare_database(python, service, env)
    logs = scratch / "logs"
    logs.mkdir()
    return Setup(python, service, env, logs, token)


ERROR_CASES = [
    Cell("anonymous", "/auth/me", 1, None),
    Cell(
        "wrong-password",
        "/auth/login",
        1,
        None,
        method="POST",
        body='{"username": "bench", "password": "not-the-password"}',
    ),
    Cell("invalid-login", "/auth/login", 1, None, method="POST", body='{"username": ""}'),
    Cell("upstream-down", "/upstream", 1, None),
    # A bearer token that is no live token (its header is ERROR_TOKEN): the service's 401.
    Cell("invalid-token", "/auth/me", 1, None, bearer=True),
]
ERROR_TOKEN = {"Authorization": "Bearer tok_not-a-live-token"}


def error_answer(url: str, case: Cell) -> dict[str, Any]:
    answer, headers = call(url, case, ERROR_TOKEN if case.bearer else None)
    error = json.loads(answer["body"])["error"]
    return {
        "status": answer["status"],
        "error": {key: error[key] for key in ("status", "title", "detail")},
        "www-authenticate": headers.get("WWW-Authenticate"),
        **{name: headers.get(name) for name in COMPARED_HEADERS},
    }


def test_every_variant_answers_the_error_cases_as_the_service_does(setup: Setup) -> None:
    answers = {}
    for transport in TRANSPORTS:  # the upstream client's, which every variant is told to use
        env = {**setup.env, f"{ENV_PREFIX}UPSTREAM_TRANSPORT": transport}
        with_transport = Setup(setup.python, setup.service, env, setup.logs, setup.token)
        for variant in VARIANTS:
            with serving(variant, with_transport) as (url, _):
                answers[variant, transport] = {
                    case.name: error_answer(url, case) for case in ERROR_CASES
                }
    baked = answers["baked", "aiohttp"]
    assert baked["anonymous"]["status"] == 401
    assert baked["upstream-down"]["error"]["detail"] == "The upstream service could not be reached."
    assert baked["invalid-token"]["www-authenticate"] == 'Bearer error="invalid_token"'
    for variant_and_transport, got in answers.items():
        assert got == baked, variant_and_transport
