"""Metrics and access logs from a real server with two worker processes, started by the
launcher (``python -m {{ cookiecutter.package_name }} serve --workers 2``) or by Hypercorn itself
with ``PROMETHEUS_MULTIPROC_DIR`` set, both with ``hypercorn.toml``: a scrape answered by either
worker counts both workers' requests; the launcher's metrics directory lives as long as the
server; each request is one JSON access event, and there is no other access log."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings
from tests.support import free_port, store_environment

PROJECT = Path({{ cookiecutter.package_name }}.__file__).parents[2]
TOKEN = "metrics-token-" + "k3Jq9Zt7Wm2Xv5Rb" * 2
COUNTED = "/auth/me"  # anonymous: 401, without a store call


@contextmanager
def two_workers(
    settings: Settings, tmp_path: Path, runner: str, **extra: str
) -> Iterator[tuple[str, Path, Path]]:
    """Serve with two workers, by ``runner`` (``launcher`` or ``hypercorn``); ``extra`` adds
    environment variables. Yields the URL, the temporary folder the server uses, and its
    output file. Stops the server at the end (SIGTERM; it must exit 0)."""
    port, temp, output = free_port(), tmp_path / "tmp", tmp_path / "server.log"
    temp.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(ENV_PREFIX) and key != "PROMETHEUS_MULTIPROC_DIR"
    }
    env |= store_environment(settings) | {
        "PYTHONPATH": str(PROJECT / "src"),
        "TMPDIR": str(temp),
        f"{ENV_PREFIX}METRICS_TOKEN": TOKEN,
        f"{ENV_PREFIX}LOG_FORMAT": "json",
        f"{ENV_PREFIX}SHUTDOWN_DELAY": "0",
        f"{ENV_PREFIX}SECRET_KEY": settings.secret_key.get_secret_value(),
        **extra,
    }
    bind = ["--workers", "2", "--bind", f"127.0.0.1:{port}"]
    command = {
        "launcher": [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve", *bind],
        "hypercorn": [sys.executable, "-m", "hypercorn", "--config", "hypercorn.toml", *bind,
                      "{{ cookiecutter.package_name }}.asgi:app"],
    }[runner]  # fmt: skip
    with output.open("wb") as sink:
        server = subprocess.Popen(
            command,
            cwd=PROJECT,  # its hypercorn.toml
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not answers(url):
            assert server.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
        yield url, temp, output
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            status = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
        assert status == 0, output.read_text()


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def call(url: str) -> httpx.Response:
    """One request on a connection of its own, so that either worker may take it."""
    return httpx.get(f"{url}{COUNTED}", headers={"Connection": "close"}, timeout=10)


def counted(url: str) -> float:
    """What a scrape (answered by either worker) says of the requests to ``COUNTED``."""
    response = httpx.get(
        f"{url}/metrics",
        headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = {"method": "GET", "route": COUNTED, "status": "401"}
            if sample.name == "http_requests_total" and sample.labels == labels:
                return sample.value
    return 0.0


@pytest.mark.parametrize("runner", ["launcher", "hypercorn"])
def test_a_scrape_counts_the_requests_of_both_workers(
    settings: Settings, tmp_path: Path, runner: str
) -> None:
    given = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")} if runner == "hypercorn" else {}
    if given:
        (tmp_path / "metrics").mkdir()
    with two_workers(settings, tmp_path, runner, **given) as (url, temp, output):
        made = "{{ cookiecutter.package_name }}-metrics-*"  # what the launcher names it
        (directory,) = [tmp_path / "metrics"] if given else temp.glob(made)
        sent = 0
        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(max_workers=10) as pool:
            # Until both workers have counted requests: each keeps a file of its own.
            while len(list(directory.glob("counter_*.db"))) < 2:
                assert time.monotonic() < deadline, "one worker took every request"
                assert all(r.status_code == 401 for r in pool.map(call, [url] * 10))
                sent += 10
        # Each worker counted only some of them; every scrape reports them all.
        assert [counted(url) for _ in range(6)] == [sent] * 6
        tagged = httpx.get(f"{url}{COUNTED}", headers={"X-Request-ID": "two-workers-1"})
        assert tagged.headers["x-request-id"] == "two-workers-1"
    # The launcher removes the directory it made; one the operator set stays.
    assert directory.exists() == bool(given)

    logged = [json.loads(line) for line in output.read_text().splitlines() if line.startswith("{")]
    access = [e for e in logged if e.get("logger") == "{{ cookiecutter.package_name }}.access"]
    to_counted = [e for e in access if e["route"] == COUNTED]
    assert len(to_counted) == sent + 1
    assert {e["status"] for e in to_counted} == {401}
    ids = [e["request_id"] for e in to_counted]
    assert ids.count("two-workers-1") == 1
    assert all(re.fullmatch("[0-9a-f]{32}", i) for i in ids if i != "two-workers-1")
    # Hypercorn's own access log is off: one line per request, the service's.
    assert not [line for line in output.read_text().splitlines() if f"GET {COUNTED}" in line]


def test_hypercorn_alone_warns_that_each_worker_counts_alone(
    settings: Settings, tmp_path: Path
) -> None:
    warning = "metrics count this worker's requests only: set PROMETHEUS_MULTIPROC_DIR"
    with two_workers(settings, tmp_path, "hypercorn") as (_, temp, output):
        # One worker answering does not mean the other has started: wait for both warnings.
        deadline = time.monotonic() + 30
        while output.read_text().count(warning) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(temp.iterdir()) == []
    assert output.read_text().count(warning) == 2


@pytest.fixture(autouse=True)
def _no_inherited_multiprocess_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
