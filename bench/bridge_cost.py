"""What the sync -> async bridge costs, per call and per request, for each way it could be built.

Two numbers matter for the generated service's ``runtime.py``:

- **per call**: sync code waiting for a coroutine (``runtime.run``), which Flask does once per
  async view and once per user lookup. The coroutine here suspends once, as real I/O does, so
  the call crosses between sync code and the loop and back.
- **per request**: opening a portal for Flask's sync code (``call_with_portal``), once per
  request. greenback makes a fresh greenlet each time, which costs CPython a new frame stack
  (an mmap, a page fault and a munmap); the runtime reuses parked portals instead.

Each row is the mean over N calls; "plain await" is the floor. Tight loops keep caches hot, so
these are lower bounds: under a real server a fresh greenlet cost about 50 µs of CPU per request
(docs/performance-log.md), which is why the runtime reuses them.

    .venv/bin/python bench/bridge_cost.py [N]
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

import greenback
from asgiref.sync import async_to_sync

RUNTIME = (
    Path(__file__).resolve().parent.parent
    / "{{cookiecutter.project_slug}}/src/{{cookiecutter.package_name}}/runtime.py"
)


def load_runtime() -> ModuleType:
    """The template's runtime.py, imported straight from the template (it has no Jinja)."""
    spec = importlib.util.spec_from_file_location("template_runtime", RUNTIME)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {RUNTIME}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def one_wait() -> int:
    await asyncio.sleep(0)
    return 1


def nothing() -> int:
    return 1


def timed(label: str, n: int, call: Callable[[], object]) -> tuple[str, float]:
    call()  # warm up
    start = time.perf_counter()
    for _ in range(n):
        call()
    return label, (time.perf_counter() - start) / n * 1e6


async def timed_async(
    label: str, n: int, call: Callable[[], Awaitable[object]]
) -> tuple[str, float]:
    await call()  # warm up
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return label, (time.perf_counter() - start) / n * 1e6


async def on_loop(n: int, runtime: ModuleType) -> list[tuple[str, float]]:
    rows = [await timed_async("plain await (floor)", n, one_wait)]

    def greenback_calls() -> tuple[str, float]:
        return timed("greenback.await_", n, lambda: greenback.await_(one_wait()))

    def runtime_calls() -> tuple[str, float]:
        return timed("runtime.run in a portal", n, lambda: runtime.run(one_wait()))

    rows.append(await greenback.with_portal_run_sync(greenback_calls))
    rows.append(await runtime.call_with_portal(runtime_calls))
    rows.append(
        await timed_async(
            "greenback portal per request (fresh greenlet)",
            n,
            lambda: greenback.with_portal_run_sync(nothing),
        )
    )
    rows.append(
        await timed_async(
            "runtime portal per request (reused greenlet)",
            n,
            lambda: runtime.call_with_portal(nothing),
        )
    )
    return rows


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rows = asyncio.run(on_loop(n, load_runtime()))

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    rows.append(
        timed(
            "run_coroutine_threadsafe to a loop thread",
            n,
            lambda: asyncio.run_coroutine_threadsafe(one_wait(), loop).result(),
        )
    )
    loop.call_soon_threadsafe(loop.stop)
    rows.append(
        timed("asgiref async_to_sync (stock Flask)", max(n // 10, 100), async_to_sync(one_wait))
    )

    floor = rows[0][1]
    print(f"{'mechanism':<48} {'µs/call':>9} {'x await':>8}")
    for label, micros in rows:
        print(f"{label:<48} {micros:>9.1f} {micros / floor:>8.1f}")


if __name__ == "__main__":
    main()
