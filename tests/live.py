"""A baked service running under a real Hypercorn process on 127.0.0.1, for tests that need
real HTTP (test_live, test_browser). Its output goes to a log file, never a pipe that could
fill up and stall it, and it runs in a session of its own so that a failed test cannot leave
its worker process behind."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import run_in_service

PASSWORD = "a long enough password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveService:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and the exit status; fails the test if Hypercorn takes too long."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"hypercorn did not stop within {timeout} s of SIGTERM:\n{self.output()}")

    def wait_until_healthy(self, deadline: float = 30) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.process.poll() is not None:
                pytest.fail(f"hypercorn exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail(f"hypercorn never answered /healthz:\n{self.output()}")


@contextmanager
def live_service(
    baked: Path,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    prepare: bool = True,
    serve_args: tuple[str, ...] = (),
) -> Iterator[LiveService]:
    """Copy ``baked``, migrate it, create user ``alice`` (password ``PASSWORD``) and serve it
    with its launcher and ``hypercorn.toml`` on ``port`` (default: a free one); ``env`` adds
    settings (no shutdown delay unless ``env`` sets one). ``prepare=False`` skips the migration
    and the user, for a second instance on a database the first one prepared. ``serve_args`` go to
    the launcher (Hypercorn options such as ``--workers 2``)."""
    service = tmp_path / "service"
    shutil.copytree(baked, service, ignore=shutil.ignore_patterns("__pycache__"))
    url = f"http://127.0.0.1:{port or free_port()}"
    env = {
        "MY_SERVICE_ENV": "development",
        "MY_SERVICE_DATABASE_URL": f"sqlite:///{tmp_path}/users.sqlite3",
        "MY_SERVICE_SECRET_KEY": secrets.token_urlsafe(48),
        "MY_SERVICE_SHUTDOWN_DELAY": "0",
        **(env or {}),
    }
    if prepare:
        flask = ("-m", "flask", "--app", "my_service")
        upgraded = run_in_service(service, *flask, "db", "upgrade", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        created = run_in_service(
            service, *flask, "users", "create", "alice", env=env, input=PASSWORD
        )
        assert created.returncode == 0, created.stderr

    log = tmp_path / "hypercorn.log"
    with serve(service, "my_service", url, env, log, serve_args) as live:
        yield live


@contextmanager
def serve(
    service: Path,
    package: str,
    url: str,
    env: dict[str, str],
    log: Path,
    args: tuple[str, ...] = (),
) -> Iterator[LiveService]:
    """Serve the baked ``service`` (import name ``package``) on ``url`` with its launcher and
    ``args``, ``env`` added to the environment, its output appended to ``log``; killed on exit."""
    command = [sys.executable, "-m", package, "serve", "--bind", url.removeprefix("http://")]
    command += args
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command,
            cwd=service,
            env={**os.environ, **env, "PYTHONPATH": str(service / "src")},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    live = LiveService(url, process, log)
    try:
        live.wait_until_healthy()
        yield live
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


#: How this machine kind starts its Redis when it is down (the env tool's machine page).
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def redis_answers(port: int = 6379) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> str:
    """The URL of the machine's Redis on 127.0.0.1:6379, started if it is down; fails if it
    cannot be had (a test that needs it must not silently skip)."""
    if not redis_answers():
        if shutil.which("redis-server") is None:
            pytest.fail("Redis is down on 127.0.0.1:6379 and redis-server is not installed")
        started = subprocess.run(REDIS_START, capture_output=True, text=True)
        deadline = time.monotonic() + 10
        while not redis_answers() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not redis_answers():
            pytest.fail(f"Redis is down on 127.0.0.1:6379 and would not start: {started.stderr}")
    return "redis://127.0.0.1:6379"
