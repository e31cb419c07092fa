"""What one wait costs a request, in the baked service and in Quart, alone and 100 at a time.

The ASGI apps are called in-process (no server, no sockets), so only the apps are measured.
``GET /auth/me`` with a valid session, CPU per request, in three modes:

- ``nostore``: the user lookup answers at once, so the request never waits;
- ``sleep0``: the lookup waits once for the loop (``asyncio.sleep(0)``), still without the store;
- ``hop``: the lookup waits once for a thread (a no-op on a two-thread pool), without the store;
- ``store``: the real lookup, a hop to the user store's threads (lookups made at once share one).

Each mode and app runs in a fresh process; each figure is the median of 7 batches of 3 000
requests. docs/performance-log.md ("Where the remaining gap to Quart is") quotes the output.

Needs a harness run first (it uses the service, database and venv in ``bench/.scratch``):

    bench/.scratch/venv/bin/python bench/wait_cost.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from run import PASSWORD, SCRATCH, USER_AGENT, USERNAME

BENCH = Path(__file__).resolve().parent
MODES = ("nostore", "sleep0", "hop", "store")
VARIANTS = ("baked", "quart")
CONCURRENCY = (1, 100)
BATCHES, BATCH = 7, 3000

Message = MutableMapping[str, Any]
ASGIApp = Callable[..., Awaitable[None]]


_HOP_THREADS = ThreadPoolExecutor(max_workers=2)


async def wait(mode: str) -> None:
    """The lookup's one wait, for the modes that have one."""
    if mode == "sleep0":
        await asyncio.sleep(0)
    elif mode == "hop":
        await asyncio.get_running_loop().run_in_executor(_HOP_THREADS, int)


def load_app(variant: str, mode: str) -> ASGIApp:
    """The app, with its user lookup replaced as ``mode`` says."""
    from my_service.users import User

    if variant == "baked":
        from my_service import auth, runtime
        from my_service.asgi import app as baked

        def load_user(token: str) -> auth.SessionUser:
            runtime.run(wait(mode))
            return auth.SessionUser(User(1, USERNAME), token)

        if mode != "store":
            auth.login_manager.user_loader(load_user)
        app: ASGIApp = baked
        return app
    sys.path.insert(0, str(BENCH / "apps"))
    import quart_app

    async def user(self: quart_app.StoreUser) -> User:
        await wait(mode)
        return User(1, USERNAME)

    if mode != "store":
        setattr(quart_app.StoreUser, "user", user)  # noqa: B010 (mypy: no method assignment)
    return quart_app.app


async def call(
    app: ASGIApp, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> list[Message]:
    """One request through the app; the messages it sent."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", USER_AGENT.encode()),
            (b"accept", b"application/json"),
            *headers,
        ],
    }
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never: the apps read the body once
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def measure(app: ASGIApp, concurrency: int) -> float:
    """Median CPU µs per ``GET /auth/me`` over the batches."""
    startup: asyncio.Queue[Message] = asyncio.Queue()
    started: asyncio.Queue[Message] = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    lifespan = asyncio.ensure_future(app({"type": "lifespan"}, startup.get, started.put))
    assert (await started.get())["type"] == "lifespan.startup.complete"
    body = json.dumps({"username": USERNAME, "password": PASSWORD}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    login = await call(app, "POST", "/auth/login", headers, body)
    assert login[0]["status"] == 200, login
    cookie = b"; ".join(v.split(b";")[0] for k, v in login[0]["headers"] if k == b"set-cookie")

    async def one() -> None:
        answer = await call(app, "GET", "/auth/me", [(b"cookie", cookie)])
        assert answer[0]["status"] == 200, answer

    per_request = []
    for _ in range(BATCHES):
        cpu = time.process_time()
        for _ in range(BATCH // concurrency):
            await asyncio.gather(*(one() for _ in range(concurrency)))
        per_request.append((time.process_time() - cpu) / BATCH * 1e6)
    lifespan.cancel()
    return statistics.median(per_request)


def main() -> None:
    if len(sys.argv) == 4:  # one measurement, in this fresh process
        variant, mode, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
        os.chdir(SCRATCH / "my-service")  # its .env and SQLite file, as the harness made them
        print(asyncio.run(measure(load_app(variant, mode), concurrency)))
        return
    print("CPU µs per GET /auth/me, in-process; medians of 7 batches of 3000 requests")
    print(f"{'in flight':>9}  {'mode':8}" + "".join(f"{v:>8}" for v in VARIANTS))
    for concurrency in CONCURRENCY:
        for mode in MODES:
            row = []
            for variant in VARIANTS:
                out = subprocess.run(
                    [sys.executable, __file__, variant, mode, str(concurrency)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row.append(float(out.stdout.strip().splitlines()[-1]))
            print(f"{concurrency:>9}  {mode:8}" + "".join(f"{x:8.0f}" for x in row))


if __name__ == "__main__":
    main()
