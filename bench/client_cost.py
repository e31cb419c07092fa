"""CPU per upstream call of the service's HTTP client, against httpx2 with the same pool size.

The upstream cells of the harness are bound by one core, and most of that core goes to the
HTTP client; this measures the client alone. One process per sample calls the bench's delayed
upstream (``upstream_server.py``, 50 ms) from ``CONCURRENCY`` tasks at once for a few seconds,
after a second of warm-up, and reports its CPU time (all threads) per completed call:

- ``aiohttp``: the session the service uses, built by ``my_service.http_client.new_client``,
  called through ``get_json`` as the service's ``/upstream`` does;
- ``httpx2``: ``httpx2.AsyncClient`` with the same number of pooled keep-alive connections,
  the client the service used before (docs/performance-log.md, "What the changes bought").

Samples alternate between the clients; the table shows medians. Numbers, not assertions.
Needs a harness run first (it uses the baked service and the venv in ``bench/.scratch``):

    bench/.scratch/venv/bin/python bench/client_cost.py [--concurrency 100,400] [--rounds 3]
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
from typing import Any

from run import UPSTREAM_DELAY, free_port

BENCH = Path(__file__).resolve().parent
CLIENTS = ("aiohttp", "httpx2")
WARM_UP, MEASURE = 1.0, 4.0


async def open_client(
    name: str, stack: AsyncExitStack, pool: int
) -> Callable[[str], Awaitable[Any]]:
    """A function that makes one call through ``name``'s client and decodes its JSON."""
    if name == "aiohttp":
        from my_service.http_client import get_json, new_client

        session = await stack.enter_async_context(
            new_client(connect_timeout=2.0, read_timeout=5.0, max_connections=pool)
        )

        async def call_aiohttp(url: str) -> Any:
            return await get_json(session, url)  # the service's own call

        return call_aiohttp
    import httpx2

    limits = httpx2.Limits(max_connections=pool, max_keepalive_connections=pool)
    client = await stack.enter_async_context(httpx2.AsyncClient(limits=limits, timeout=5.0))

    async def call_httpx2(url: str) -> Any:
        return (await client.get(url)).json()

    return call_httpx2


async def sample(name: str, url: str, concurrency: int) -> dict[str, float]:
    """CPU µs per call and calls per second, ``concurrency`` callers for ``MEASURE`` s."""
    calls = 0
    stop = False
    async with AsyncExitStack() as stack:
        call = await open_client(name, stack, pool=min(concurrency, 100))

        async def caller() -> None:
            nonlocal calls
            while not stop:
                await call(url)
                calls += 1
                # Let a call queued for a pooled connection take the one just released, as it
                # would in a server, whose next request comes in through the loop: aiohttp's
                # pool hands an idle connection to whoever asks first, so a caller that asked
                # again at once would keep its connection and starve the queue.
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(caller()) for _ in range(concurrency)]
        await asyncio.sleep(WARM_UP)
        calls0, cpu0, wall0 = calls, time.process_time(), time.perf_counter()
        await asyncio.sleep(MEASURE)
        done, cpu, wall = calls - calls0, time.process_time() - cpu0, time.perf_counter() - wall0
        stop = True
        await asyncio.gather(*tasks)
    return {"cpu_us": cpu / done * 1e6, "calls_per_s": done / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        [sys.executable, str(BENCH / "upstream_server.py"), str(port), str(UPSTREAM_DELAY)],
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
            cpu = {n: statistics.median(r["cpu_us"] for r in results[n]) for n in CLIENTS}
            for name in CLIENTS:
                rate = statistics.median(r["calls_per_s"] for r in results[name])
                print(
                    f"{concurrency:4d} in flight  {name:8s} {cpu[name]:6.0f} µs CPU per call"
                    f"  {rate:6.0f} calls/s"
                )
            print(
                f"{concurrency:4d} in flight  httpx2/aiohttp CPU per call: "
                f"{cpu['httpx2'] / cpu['aiohttp']:.1f}"
            )
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
