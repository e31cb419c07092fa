"""What one sync -> async call costs with each bridge the runtime could use.

Runs a trivial coroutine N times from synchronous code through each mechanism and prints the
mean cost per call in microseconds, with plain ``await`` as the floor. The runtime
(``runtime.py`` in the generated service) uses the greenback portal on the server loop and
``run_coroutine_threadsafe`` from worker threads; this is the measurement behind that choice.

    .venv/bin/python bench/bridge_cost.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable

import greenback
from asgiref.sync import async_to_sync


async def trivial() -> int:
    return 1


def timed(label: str, n: int, call: Callable[[], object]) -> tuple[str, float]:
    call()  # warm up
    start = time.perf_counter()
    for _ in range(n):
        call()
    return label, (time.perf_counter() - start) / n * 1e6


async def on_loop(n: int) -> list[tuple[str, float]]:
    start = time.perf_counter()
    for _ in range(n):
        await trivial()
    floor = ("plain await (floor)", (time.perf_counter() - start) / n * 1e6)

    def sync_caller() -> tuple[str, float]:
        return timed(
            "greenback portal + await_ (server loop)", n, lambda: greenback.await_(trivial())
        )

    portal = await greenback.with_portal_run_sync(sync_caller)
    return [floor, portal]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rows = asyncio.run(on_loop(n))

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    rows.append(
        timed(
            "run_coroutine_threadsafe to a loop thread",
            n,
            lambda: asyncio.run_coroutine_threadsafe(trivial(), loop).result(),
        )
    )
    loop.call_soon_threadsafe(loop.stop)
    rows.append(
        timed("asgiref async_to_sync (stock Flask)", max(n // 10, 100), async_to_sync(trivial))
    )

    floor = rows[0][1]
    print(f"{'mechanism':<44} {'µs/call':>9} {'x await':>8}")
    for label, micros in rows:
        print(f"{label:<44} {micros:>9.1f} {micros / floor:>8.1f}")


if __name__ == "__main__":
    main()
