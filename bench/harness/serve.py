"""Run one variant under Hypercorn, check what it answers, and sample its processes."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness.cells import BENCH, CELLS, COMPARED_HEADERS, USER_AGENT, VARIANTS, Cell

#: The headers that authenticate a cell's requests (``Cookie`` or ``Authorization``), or none.
Auth = dict[str, str]


@dataclass
class Setup:
    """What every variant is started with: the bench venv, the baked service, env and logs."""

    python: Path
    service: Path
    env: dict[str, str]
    logs: Path
    #: The bench user's access token (``users token create``), for the bearer cells.
    token: str = ""
    #: What the first variant answered per cell (JSON and compared headers): all must match.
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tree(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / 2**20


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: server exited early; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: server did not answer within 60 s; see {log_path}")


@contextmanager
def serving(variant: str, setup: Setup) -> Iterator[tuple[str, psutil.Process]]:
    """Run one variant under hypercorn with the baked service's own hypercorn.toml."""
    port = free_port()
    log_path = setup.logs / f"{variant}.log"
    command = [str(setup.python), "-m", "hypercorn", "--config", "hypercorn.toml"]
    with log_path.open("ab") as output:
        process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}", VARIANTS[variant]],
            cwd=setup.service,
            env={**setup.env, "PYTHONPATH": str(BENCH / "apps")},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, log_path)
        yield url, psutil.Process(process.pid)
    finally:
        # Hypercorn would let orphaned requests finish for graceful_timeout (10 s); the
        # measurement is over, so give it two seconds and then stop the whole tree.
        processes = tree(psutil.Process(process.pid))
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            for proc in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            process.wait()


@contextmanager
def answering(variant: str, cell: Cell, setup: Setup) -> Iterator[tuple[str, psutil.Process, Auth]]:
    """A variant serving, logged in if ``cell`` needs it, checked to answer ``cell`` right.

    Yields its URL, its process and the headers that authenticate the cell's requests.
    """
    with serving(variant, setup) as (url, server):
        auth = credentials(url, cell, setup)
        check_answer(variant, url, cell, auth, setup.answers)
        yield url, server, auth


def credentials(url: str, cell: Cell, setup: Setup) -> Auth:
    """The headers ``cell`` authenticates with: a fresh log-in's cookie, or the access token."""
    if cell.cookie:
        return {"Cookie": session_cookie(url)}
    if cell.bearer:
        return {"Authorization": f"Bearer {setup.token}"}
    return {}


def call(url: str, cell: Cell, auth: Auth | None = None) -> tuple[Any, Any]:
    """One request as wrk sends it: the JSON answer and the response's headers."""
    headers = {
        "Accept": "application/json",
        "User-Agent": USER_AGENT,  # as wrk_report.lua sends: session protection checks it
    }
    if cell.body:
        headers["Content-Type"] = "application/json"
    headers.update(auth or {})
    request = urllib.request.Request(
        url + cell.path, data=cell.body.encode() or None, headers=headers, method=cell.method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply), reply.headers
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read().decode(errors="replace")}, error.headers


def session_cookie(url: str) -> str:
    """Log in once and return the Cookie header that authenticates as the bench user."""
    login = next(cell for cell in CELLS if cell.name == "login")
    _, headers = call(url, login)
    cookies = headers.get_all("Set-Cookie") or []
    return "; ".join(cookie.split(";", 1)[0] for cookie in cookies)


def check_answer(
    variant: str, url: str, cell: Cell, auth: Auth, answers: dict[str, dict[str, Any]]
) -> None:
    """Stop unless ``variant`` answers ``cell`` as expected, with the same headers as the rest."""
    answer, headers = call(url, cell, auth)
    if answer != cell.expect:
        raise SystemExit(
            f"bench: {variant} answers {cell.method} {cell.path} with {answer!r}, "
            f"not {cell.expect!r}; the comparison would be meaningless"
        )
    seen = {"json": answer, "headers": {name: headers.get(name) for name in COMPARED_HEADERS}}
    first = answers.setdefault(cell.name, {"variant": variant, **seen})
    if {"variant": first["variant"], **seen} != first:
        raise SystemExit(
            f"bench: {variant} answers {cell.name} with headers {seen['headers']!r}, "
            f"{first['variant']} with {first['headers']!r}"
        )


class Sampler:
    """Peak RSS of a process tree, sampled every 50 ms while a measurement runs."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(tree(self.process)))

    def __enter__(self) -> Sampler:
        self.peak = rss_mb(tree(self.process))
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
