"""Measure, over real HTTP, what the foundation issue promises about concurrency.

Bakes the default service, adds a sync view that sleeps 0.5 s, serves it with one Hypercorn
worker on 127.0.0.1 and reports:

* the wall time of 10 concurrent requests to that sync view (serial would be 5 s; the
  promise is under 1.5 s);
* errors among 50 concurrent requests through ``/upstream`` (one shared client, calling a
  local upstream that answers after 50 ms).

Numbers, not assertions: this machine is shared and noisy, so no test holds a timing
threshold. Run it with ``.venv/bin/python bench/sync_views.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx2
from cookiecutter.main import cookiecutter

REPO = Path(__file__).resolve().parents[1]

APP = textwrap.dedent(
    """
    import time
    from flask import jsonify
    from my_service import create_app
    from my_service.asgi_adapter import ASGIAdapter

    flask_app = create_app()

    @flask_app.get("/sleep")
    def sleep():
        time.sleep(0.5)
        return jsonify(slept=0.5)

    app = ASGIAdapter(flask_app)
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def upstream_server(port: int, writers: set[asyncio.StreamWriter]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                await asyncio.sleep(0.05)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writers.discard(writer)
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def measure(url: str, upstream_port: int) -> tuple[float, list[int], list[int]]:
    writers: set[asyncio.StreamWriter] = set()
    server = await upstream_server(upstream_port, writers)
    limits = httpx2.Limits(max_connections=100)
    async with server, httpx2.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await client.get("/sleep")  # warm up the thread pool
        start = time.perf_counter()
        sleeps = await asyncio.gather(*(client.get("/sleep") for _ in range(10)))
        elapsed = time.perf_counter() - start
        upstream = await asyncio.gather(*(client.get("/upstream") for _ in range(50)))
        # The service keeps its pooled connections to us open; close them so that the
        # handlers end normally instead of being cancelled when the loop stops.
        for writer in list(writers):
            writer.close()
        await asyncio.sleep(0.1)
    return elapsed, [r.status_code for r in sleeps], [r.status_code for r in upstream]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "template"
        subprocess.run([str(REPO / "scripts" / "export-template"), str(template)], check=True)
        service = Path(cookiecutter(str(template), no_input=True, output_dir=scratch))
        (service / "bench_app.py").write_text(APP)
        port, upstream_port = free_port(), free_port()
        env = {
            **os.environ,
            "PYTHONPATH": f"{service / 'src'}{os.pathsep}{service}",
            "MY_SERVICE_DATABASE_URL": f"sqlite:///{scratch}/bench.sqlite3",
            "MY_SERVICE_UPSTREAM_URL": f"http://127.0.0.1:{upstream_port}/",
        }
        command = [sys.executable, "-m", "hypercorn", "--config", "hypercorn.toml"]
        command += ["--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "bench_app:app"]
        server = subprocess.Popen(command, cwd=service, env=env, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx2.get(f"{url}/healthz")
                    break
                except httpx2.TransportError:
                    time.sleep(0.1)
            elapsed, sleeps, upstream = asyncio.run(measure(url, upstream_port))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
    print(
        f"10 concurrent sync views sleeping 0.5 s: {elapsed:.2f} s in total "
        f"(statuses {sorted(set(sleeps))}; serial would be 5.00 s)"
    )
    errors = sum(status != 200 for status in upstream)
    print(f"50 concurrent /upstream calls through one shared client: {errors} errors")


if __name__ == "__main__":
    main()
