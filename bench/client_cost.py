"""CPU per upstream call of the shared HTTP client, for each transport the service can use.

On the harness's upstream cells a worker is bound by one core, and much of that core goes to
the HTTP client; this measures the client alone. One process per sample calls the bench's
delayed upstream (``upstream_server.py``, 50 ms) from N tasks at once for a few seconds, after
a second of warm-up, and reports its CPU time (all threads) per completed call, and the calls
that failed (that ``GET /upstream`` would answer with 502/504: a wait over the 5 s pool
timeout, say):

- ``httpx``: ``httpx.AsyncClient`` on httpx's own transport (httpcore's pool);
- ``httpx-aiohttp``: the same client on httpx-aiohttp's ``AiohttpTransport``;
- ``aiohttp``: a plain ``aiohttp.ClientSession``, the floor the second one builds on;
- ``httpx, 100 kept alive``: httpx's transport keeping all 100 connections alive, which the
  references avoid (``common.py`` says why).

The two httpx clients are the reference apps' own (``apps/common.py``, as
``MY_SERVICE_UPSTREAM_TRANSPORT`` chooses them): 100 pooled connections, the same timeouts,
no cookies kept; each call is their ``GET /upstream`` (status check and JSON decoding).
Samples alternate between the clients; the table shows medians. Numbers, not assertions.

    .venv/bin/python bench/client_cost.py [--concurrency 100,400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH / "apps"))
import common  # noqa: E402  (bench/apps is not a package: the apps import it by this name)

CLIENTS = {
    "httpx": "httpx",
    "httpx-aiohttp": "aiohttp",
    "aiohttp": None,
    "httpx, 100 kept alive": "httpx",
}
WARM_UP, MEASURE = 1.0, 4.0
UPSTREAM_DELAY = "0.05"


async def open_client(name: str, stack: AsyncExitStack) -> Callable[[str], Awaitable[int]]:
    """A function that makes one call through ``name``'s client, decodes its JSON and returns
    the status it would answer with (200, or 502/504 for a failed call)."""
    if name == "httpx, 100 kept alive":  # what common.py avoids, measured for the doc
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        client = httpx.AsyncClient(limits=limits, timeout=common.TIMEOUT, trust_env=False)
    elif (transport := CLIENTS[name]) is not None:
        client = common.new_upstream_client(transport)
    else:
        return await open_aiohttp(stack)
    await stack.enter_async_context(client)

    async def call_httpx(url: str) -> int:
        return (await common.fetch_upstream(client, url))[1]

    return call_httpx


async def open_aiohttp(stack: AsyncExitStack) -> Callable[[str], Awaitable[int]]:
    connector = aiohttp.TCPConnector(limit=common.MAX_CONNECTIONS)
    session = await stack.enter_async_context(
        aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
    )

    async def call_aiohttp(url: str) -> int:
        try:
            async with session.get(url) as reply:
                json.loads(await reply.read())
                return reply.status
        except (TimeoutError, aiohttp.ClientError):
            return 502

    return call_aiohttp


async def sample(name: str, url: str, concurrency: int) -> dict[str, float]:
    """CPU µs per call, calls per second and failed calls, ``concurrency`` callers at once."""
    calls = failed = 0
    stop = False
    async with AsyncExitStack() as stack:
        call = await open_client(name, stack)

        async def caller() -> None:
            nonlocal calls, failed
            while not stop:
                if await call(url) != 200:
                    failed += 1
                calls += 1
                # Let a call queued for a pooled connection take the one just released, as it
                # would in a server, whose next request comes in through the loop: aiohttp's
                # pool hands an idle connection to whoever asks first, so a caller that asked
                # again at once would keep its connection and starve the queue.
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(caller()) for _ in range(concurrency)]
        await asyncio.sleep(WARM_UP)
        calls0, failed0, cpu0, wall0 = calls, failed, time.process_time(), time.perf_counter()
        await asyncio.sleep(MEASURE)
        done, cpu, wall = calls - calls0, time.process_time() - cpu0, time.perf_counter() - wall0
        errors = failed - failed0
        stop = True
        await asyncio.gather(*tasks)
    return {"cpu_us": cpu / max(done, 1) * 1e6, "calls_per_s": done / wall, "failed": errors}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--concurrency", default="100,400")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample", nargs=3, metavar=("CLIENT", "URL", "CONCURRENCY"))
    args = parser.parse_args()
    if args.sample:  # one sample, in this fresh process
        name, url, concurrency = args.sample
        print(json.dumps(asyncio.run(sample(name, url, int(concurrency)))))
        return

    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, str(BENCH / "upstream_server.py"), str(port), UPSTREAM_DELAY],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        time.sleep(1.0)
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            results: dict[str, list[dict[str, float]]] = {name: [] for name in CLIENTS}
            for _ in range(args.rounds):
                for name in CLIENTS:
                    out = subprocess.run(
                        [sys.executable, __file__, "--sample", name, url, str(concurrency)],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                    results[name].append(json.loads(out))
            for name, runs in results.items():
                cpu = [r["cpu_us"] for r in runs]
                rate = statistics.median(r["calls_per_s"] for r in runs)
                failed = sum(r["failed"] for r in runs)
                print(
                    f"{concurrency:4d} in flight  {name:22s} {statistics.median(cpu):6.0f} µs CPU "
                    f"per call (samples {min(cpu):.0f}-{max(cpu):.0f})  {rate:5.0f} calls/s  "
                    f"{failed} failed"
                )
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
