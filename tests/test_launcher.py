"""``python -m <package> serve`` as a supervisor and an orchestrator see it, with real processes:
refused settings and failed start-ups give a non-zero exit status; SIGTERM makes ``/readyz``
answer 503 at once while a request in flight still gets its answer, then it exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live import free_port, live_service


def launch(baked: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the launcher to its end (it must end by itself: these start-ups fail)."""
    return subprocess.run(
        [sys.executable, "-m", "my_service", "serve", "--bind", f"127.0.0.1:{free_port()}"],
        cwd=baked,
        env={**os.environ, "PYTHONPATH": str(baked / "src"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unsafe_production_settings_are_refused_with_status_2(baked_default: Path) -> None:
    result = launch(
        baked_default, {"MY_SERVICE_ENV": "production", "MY_SERVICE_SECRET_KEY": "change-me"}
    )
    assert result.returncode == 2
    assert "error: not starting" in result.stderr
    assert "SECRET_KEY is unset or a known placeholder" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_worker_that_fails_to_start_fails_the_launcher(
    baked_default: Path, tmp_path: Path
) -> None:
    # Valid settings, but the database's folder cannot be made: the worker's start-up fails.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = launch(baked_default, {"MY_SERVICE_DATABASE_URL": f"sqlite:///{blocker}/users.db"})
    assert result.returncode != 0, result.stderr
    assert "startup failed" in result.stderr + result.stdout


@pytest.fixture
def slow_upstream() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers JSON two seconds after each request."""
    ready = threading.Event()
    address: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(2)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b'content-length: 11\r\nconnection: close\r\n\r\n{"slow": 1}')
        await writer.drain()
        writer.close()

    async def serve(stop: asyncio.Event) -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        address.append(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/")
        ready.set()
        async with server:
            await stop.wait()

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(stop),))
    thread.start()
    ready.wait(10)
    yield address[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def test_sigterm_drains_then_exits_0(
    baked_default: Path, tmp_path: Path, slow_upstream: str
) -> None:
    env = {"MY_SERVICE_UPSTREAM_URL": slow_upstream, "MY_SERVICE_SHUTDOWN_DELAY": "1"}
    with live_service(baked_default, tmp_path, env) as live:
        in_flight: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: in_flight.append(httpx.get(f"{live.url}/upstream", timeout=20))
        )
        request.start()
        time.sleep(0.5)  # the request waits on the upstream
        live.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        ready = httpx.get(f"{live.url}/readyz", timeout=5)  # still accepted, and answered
        request.join(20)
        status = live.stop(timeout=30)
        log = live.output()
    assert ready.status_code == 503, log
    assert ready.json()["error"]["reason"] == "draining"
    assert [response.status_code for response in in_flight] == [200]
    assert in_flight[0].json()["upstream"] == {"slow": 1}
    assert status == 0, log
    assert "shared clients closed" in log
    assert "Traceback" not in log


def test_a_live_service_stops_at_once_on_sigint(baked_default: Path, tmp_path: Path) -> None:
    with live_service(baked_default, tmp_path, {"MY_SERVICE_SHUTDOWN_DELAY": "30"}) as live:
        live.process.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert live.process.wait(timeout=20) == 0, live.output()
    assert time.monotonic() - started < 15  # not the 30 s drain SIGTERM would take
