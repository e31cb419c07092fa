"""CPU per request of the request observer's parts, in process: the access event and metrics.

The harness's cells move by about 5 % from run to run on this host, which hides a cost of a
few percent. This calls the baked service's ASGI app (``asgi.py``'s, the observer around the
bridge) directly, without a server or a socket, on ``GET /healthz``: four apps in one process,
one per configuration, take turns serving ``--requests`` requests each, ``--rounds`` times, and
the table shows each one's median CPU µs per request. The access events go to a file, as a
server's standard error would. It runs twice: metrics in one process, then with
``PROMETHEUS_MULTIPROC_DIR`` set, as ``python -m my_service serve`` runs the workers.

The service is baked and installed as ``scripts/bench`` does (``bench/.scratch``; from
``--revision`` if given). Numbers, not assertions.

    .venv/bin/python bench/observer_cost.py [--revision REV] [--requests 3000] [--rounds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: What each configuration changes in the service's settings.
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "access log off": {"access_log": False},
    "access log": {"access_log": True},
    "access log + metrics": {"access_log": True, "metrics": True},
    "metrics only": {"access_log": False, "metrics": True},
}
#: The lifespan tasks of the apps being measured.
_LIFESPANS: list[asyncio.Future[None]] = []
SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/healthz",
    "raw_path": b"/healthz",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"observer-cost")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--revision", help="bake the service from this git revision")
    parser.add_argument("--requests", type=int, default=3000, help="per turn")
    parser.add_argument("--rounds", type=int, default=8, help="turns per configuration")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


async def measure(requests: int, rounds: int) -> dict[str, float]:
    """In the service's venv: the median CPU µs per request of each configuration."""
    from my_service.app import asgi_app, create_app
    from my_service.settings import Settings
    from pydantic import SecretStr

    apps = {}
    for name, change in CONFIGURATIONS.items():
        token = SecretStr("observer-cost-" + "0" * 32) if change.get("metrics") else None
        update = {"log_format": "json", "access_log": change["access_log"], "metrics_token": token}
        settings = Settings().model_copy(update=update)
        apps[name] = asgi_app(create_app(settings))
        await start(apps[name])
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds + 1):  # the first round warms up and is dropped
        for name, app in apps.items():
            started = time.process_time()
            for _ in range(requests):
                await healthz(app)
            cpu[name].append((time.process_time() - started) / requests * 1e6)
    return {name: statistics.median(samples[1:]) for name, samples in cpu.items()}


async def start(app: Any) -> None:
    """Run the app's lifespan startup, as Hypercorn does before the first request."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    lifespan = asyncio.ensure_future(app(scope, inbox.get, outbox.put))
    message = await outbox.get()
    if message["type"] != "lifespan.startup.complete":
        raise SystemExit(f"observer_cost: the app did not start: {message}")
    _LIFESPANS.append(lifespan)  # kept referenced, so the task lives as long as the app


async def healthz(app: Any) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(dict(SCOPE), receive, send)
    if sent[0].get("status") != 200:
        raise SystemExit(f"observer_cost: /healthz answered {sent[0]}")


def main() -> None:
    args = parse_args()
    if args.measure:
        result = asyncio.run(measure(args.requests, args.rounds))
        print(json.dumps(result), file=sys.__stdout__)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from harness.bake import bake, install
    from harness.cells import SCRATCH

    service = bake(SCRATCH, args.revision)
    python = install(service, SCRATCH / ("venv" + (f"-{args.revision}" if args.revision else "")))
    command = [str(python), __file__, "--measure", f"--requests={args.requests}"]
    command.append(f"--rounds={args.rounds}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        modes = {"one process": {}, "multiprocess": {"PROMETHEUS_MULTIPROC_DIR": tmp}}
        for mode, extra in modes.items():
            env = {**os.environ, "MY_SERVICE_SECRET_KEY": "observer-cost-" + "0" * 40, **extra}
            with (Path(tmp) / "stderr.log").open("w") as stderr:
                done = subprocess.run(
                    command, cwd=service, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
                )
            if done.returncode != 0:
                output = (Path(tmp) / "stderr.log").read_text()[-3000:]
                raise SystemExit(f"observer_cost: {mode} failed:\n{output}")
            results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    revision = args.revision or "the working tree"
    turns = f"medians of {args.rounds} turns of {args.requests}"
    print(f"\nCPU µs per GET /healthz through the ASGI app ({revision}; {turns})")
    print(f"{'configuration':24s} {'one process':>12s} {'multiprocess':>13s}")
    for name in CONFIGURATIONS:
        one, multi = results["one process"][name], results["multiprocess"][name]
        print(f"{name:24s} {one:12.1f} {multi:13.1f}")


if __name__ == "__main__":
    main()
