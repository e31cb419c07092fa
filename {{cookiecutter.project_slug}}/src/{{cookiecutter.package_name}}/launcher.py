"""The launcher: check the settings, then serve with Hypercorn.

Run as ``python -m {{ cookiecutter.package_name }} serve [hypercorn options]``. What it adds to
serving ``{{ cookiecutter.package_name }}.asgi:app`` with ``hypercorn --config hypercorn.toml``:

- **Settings first.** Unsafe or invalid settings stop it before any worker starts, with the
  reason on stderr and exit status 2, so a supervisor or a deploy pipeline sees the failure.
- **An exit status that tells.** A worker that dies (a failed start-up included) makes the
  launcher exit with that worker's non-zero status; Hypercorn's own ``run`` reports 0 then.
- **Draining on SIGTERM.** An orchestrator sends SIGTERM and, at the same time, stops sending
  new traffic only once readiness fails. So each worker first marks the app as draining
  (``/readyz`` answers 503 at once) and keeps serving for ``SHUTDOWN_DELAY`` seconds, then
  stops accepting, lets in-flight requests finish within Hypercorn's ``graceful_timeout``, and
  runs the app's shut-down (clients and pools closed); the launcher then exits 0. SIGINT
  (Ctrl-C) skips the delay.
- **Metrics added up across workers.** With ``METRICS_TOKEN`` set, the workers count in files
  of a fresh directory (``PROMETHEUS_MULTIPROC_DIR``) that the launcher makes before they start
  and removes after they end, so a scrape answered by any worker reports them all.

Hypercorn's own command line parses the options (``hypercorn --help`` lists them);
``hypercorn.toml`` is read when no ``--config`` is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import signal
import sys
from multiprocessing.connection import wait
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import hypercorn.__main__
from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import check_multiprocess_shutdown_event, load_application
from pydantic import ValidationError

from .observability.metrics import mark_process_dead, multiprocess_directory
from .settings import Settings

APPLICATION = "{{ cookiecutter.package_name }}.asgi:app"
USAGE = "usage: python -m {{ cookiecutter.package_name }} serve [hypercorn options]"


def main(argv: list[str]) -> int:
    """Run the command line ``argv`` (without the program name); returns the exit status."""
    if not argv or argv[0] != "serve":
        print(USAGE, file=sys.stderr)
        return 2
    try:
        settings = Settings()
    except ValidationError as error:
        for problem in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in problem["loc"]) or "settings"
            print(f"error: not starting: {where}: {problem['msg']}", file=sys.stderr)
        return 2
    args = argv[1:]
    if not {"-c", "--config"} & set(args) and Path("hypercorn.toml").is_file():
        args = ["--config", "hypercorn.toml", *args]
    # Hypercorn's command line, with this module's master in place of hypercorn.run.run.
    master = functools.partial(run, shutdown_delay=settings.shutdown_delay)
    hypercorn.__main__.run = master  # type: ignore[attr-defined]
    token = settings.metrics_token
    with (
        multiprocess_directory("{{ cookiecutter.package_name }}-metrics-")
        if token is not None and token.get_secret_value()
        else contextlib.nullcontext()
    ):
        return hypercorn.__main__.main([*args, APPLICATION])


def run(config: Config, shutdown_delay: float) -> int:
    """Hypercorn's master process: start the workers, relay the shutdown, report how it went."""
    if config.worker_class != "asyncio":
        print(f"error: worker_class {config.worker_class!r}: only asyncio", file=sys.stderr)
        return 2
    sockets = config.create_sockets()
    context = multiprocessing.get_context("spawn")
    stop, quick = context.Event(), context.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT:
            quick.set()
        stop.set()

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # workers inherit it: the master decides
    workers = [
        context.Process(target=serve_worker, args=(config, sockets, stop, quick, shutdown_delay))
        for _ in range(max(1, config.workers))
    ]
    for worker in workers:
        worker.start()
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), on_signal)
    status = 0
    running = list(workers)
    while running:
        for ended in wait([worker.sentinel for worker in running]):
            worker = next(w for w in running if w.sentinel == ended)
            worker.join()
            running.remove(worker)
            if worker.pid is not None:
                mark_process_dead(worker.pid)
            if worker.exitcode:  # a failed start or shut-down: stop the others, report it
                status = status or (worker.exitcode if worker.exitcode > 0 else 1)
                stop.set()
    for sock in [*sockets.secure_sockets, *sockets.insecure_sockets]:
        sock.close()
    return status


def serve_worker(
    config: Config, sockets: Sockets, stop: Event, quick: Event, shutdown_delay: float
) -> None:
    """One worker process: serve until ``stop``; drain ``shutdown_delay`` s unless ``quick``."""
    app = load_application(config.application_path, config.wsgi_max_body_size)
    from .asgi import flask_app  # the app of what Hypercorn just loaded

    async def shutdown_trigger() -> None:
        # SIGTERM sent to this worker itself (a whole process group signalled) counts too.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await check_multiprocess_shutdown_event(stop, asyncio.sleep)
        flask_app.begin_draining()
        if not quick.is_set():
            await asyncio.sleep(shutdown_delay)

    asyncio.run(worker_serve(app, config, sockets=sockets, shutdown_trigger=shutdown_trigger))
