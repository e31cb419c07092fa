"""The benchmark harness: the baked service against Quart, FastAPI and stock Flask, in one run.

    scripts/bench [--runs 3] [--duration 5] [--cells json,up100] [--transport aiohttp|httpx]

What one run does (docs/performance.md says how to read the table):

1. Bakes the default service from this checkout (or ``--revision``) into ``bench/.scratch/``
   and installs it, with the references' dependencies (the ``bench`` extra), into
   ``bench/.scratch/venv``. Migrates its SQLite file and creates a user, with its CLI.
   ``--store postgres`` bakes it with ``user_store=postgres`` instead (into
   ``bench/.scratch/postgres/``; the same venv, given what that store needs), creates a fresh
   database on the machine's PostgreSQL for the run, migrates that, and drops it when the run
   ends, however it ends; every variant uses that database (stock Flask sits such runs out:
   ``STORES``).
2. Starts the delayed upstream (``upstream_server.py``, 50 ms) and measures its ceiling.
3. For each of ``--runs`` rounds and each cell, runs the variants back to back (in an order
   that rotates, so drift on this shared machine hits all alike), each under the same
   ``hypercorn.toml`` (one worker) and environment: the baked service and the reference apps
   in ``bench/apps/``, which import nothing from it. Every measurement gets a freshly started
   worker, checked to answer the cell with the same JSON and headers as the others: wrk for
   ``--warmup`` seconds, a pause until the worker is idle, then ``--duration`` seconds
   measured. A request fails if it errs, answers 4xx/5xx or takes over 5 s.
4. Prints medians over the rounds (requests/s, p50, p99, errors, peak RSS, CPU per request)
   and the ratios, and writes it all as JSON under ``bench/results/``.

``--paired N`` instead starts every variant at once and alternates N slices of ``--duration``
seconds between them: slices seconds apart share the machine's state, so their ratios pin a
small difference down better than rounds minutes apart (fast cells only: a slice must be long
against the cell's latency). ``--profile`` then samples the baked service and Quart on each
cell with py-spy. Numbers only: nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from harness.bake import bake, install, log, prepare_database
from harness.cells import (
    BENCH,
    CELLS,
    ENV_PREFIX,
    REPO,
    RESULTS,
    SCRATCH,
    STORES,
    TRANSPORTS,
    UPSTREAM_DELAY,
    VARIANTS,
    Cell,
)
from harness.database import bench_database
from harness.load import Sample, Timing, paired, rounds, wrk
from harness.profile import profile
from harness.report import as_json, print_table, summarize, write
from harness.serve import Setup, credentials, free_port, serving


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--duration", type=int, default=5, help="seconds measured per cell")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of load before each")
    parser.add_argument("--cells", default=",".join(c.name for c in CELLS))
    parser.add_argument("--variants", help="default: all the store can run (STORES)")
    parser.add_argument(
        "--store",
        choices=STORES,
        default="sqlite",
        help="the service's user_store, and the database every variant uses",
    )
    parser.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="aiohttp",
        help="the upstream client's transport, for every variant (MY_SERVICE_UPSTREAM_TRANSPORT)",
    )
    parser.add_argument(
        "--paired", type=int, default=0, help="instead of rounds: N alternating slices per cell"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the baked and Quart apps")
    parser.add_argument("--label", default="", help="a word for the result file name")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--revision", help="bake the service from this git revision")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the servers")
    return parser.parse_args(argv)


def measured_revision(revision: str | None) -> str:
    """The commit baked: ``--revision``'s, or this checkout's (``-dirty`` with local edits)."""
    command = ["git", "-C", str(REPO), "describe", "--always", "--abbrev=7"]
    command += [revision] if revision else ["--dirty"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def server_env(
    database_url: str, upstream_port: int, transport: str, extra: list[str]
) -> dict[str, str]:
    """The environment every variant gets (the references read the service's variables)."""
    env = {
        **os.environ,
        f"{ENV_PREFIX}DATABASE_URL": database_url,
        f"{ENV_PREFIX}UPSTREAM_URL": f"http://127.0.0.1:{upstream_port}/",
        f"{ENV_PREFIX}UPSTREAM_TRANSPORT": transport,
        f"{ENV_PREFIX}SECRET_KEY": "bench-only-secret-not-for-production",
        # As the image runs it: the service's access events as JSON lines (the references
        # write no access log; Hypercorn's is off in hypercorn.toml for every variant).
        f"{ENV_PREFIX}LOG_FORMAT": "json",
        **dict(item.split("=", 1) for item in extra),
    }
    env.pop("PYTHONPATH", None)
    return env


def upstream_ceiling(port: int, connections: int, seconds: int) -> dict[str, float]:
    ceiling = wrk(f"http://127.0.0.1:{port}/", connections, seconds, {})
    rps = ceiling["requests"] / (ceiling["duration_us"] / 1e6)
    limit = connections / UPSTREAM_DELAY
    p50 = ceiling["p50_us"] / 1000
    log(f"upstream ceiling at {connections} connections: {rps:.0f} req/s (limit {limit:.0f})")
    return {"connections": connections, "rps": rps, "limit": limit, "p50_ms": p50}


def run_cells(
    cells: list[Cell], variants: list[str], setup: Setup, upstream: psutil.Process, args: Any
) -> dict[str, dict[str, list[Sample]]]:
    samples: dict[str, dict[str, list[Sample]]] = {v: {c.name: [] for c in cells} for v in variants}
    timing = Timing(args.warmup, args.duration)
    for cell in cells if args.paired else []:
        log(f"{cell.name}: {args.paired} slices per variant, all variants serving")
        for variant, got in paired(cell, variants, args.paired, setup, upstream, timing).items():
            samples[variant][cell.name].extend(got)
        # wrk opens its connections afresh for every slice and counts only requests that
        # finish in it: a slice not much longer than the answers take measures ramp-up.
        slow = max(s.p50_ms for v in variants for s in samples[v][cell.name])
        if slow > args.duration * 1000 / 10:
            log(f"warning: {cell.name}: p50 up to {slow:.0f} ms, long for {args.duration} s slices")
    for index in range(0 if args.paired else args.runs):
        log(f"round {index + 1}/{args.runs}")
        for cell_index, cell in enumerate(cells):
            got_round = rounds(cell, variants, index + cell_index, setup, upstream, timing)
            for variant, sample in got_round.items():
                samples[variant][cell.name].append(sample)
    return samples


def selected_variants(args: argparse.Namespace) -> list[str]:
    """``--variants`` (default: all the store can run); a variant the store cannot run stops."""
    if args.variants is None:
        return list(STORES[args.store])
    variants = [v for v in args.variants.split(",") if v in VARIANTS]
    unable = [v for v in variants if v not in STORES[args.store]]
    if unable:
        raise SystemExit(f"bench: {', '.join(unable)} cannot run with --store {args.store}")
    return variants


def stop_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so servers stop and a PostgreSQL database is dropped."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cells = [c for c in CELLS if c.name in args.cells.split(",")]
    variants = selected_variants(args)
    if not cells or not variants:
        raise SystemExit("bench: no cells or no variants selected")
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (scripts/bench installs it)")
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    start = time.monotonic()
    scratch = SCRATCH if args.store == "sqlite" else SCRATCH / args.store
    scratch.mkdir(parents=True, exist_ok=True)
    revision = measured_revision(args.revision)
    service = bake(scratch, args.revision, args.store)
    venv = "venv" + (f"-{args.revision}" if args.revision else "")
    python = install(service, SCRATCH / venv)
    logs = SCRATCH / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    upstream_port = free_port()
    with bench_database(args.store, service) as database_url:
        env = server_env(database_url, upstream_port, args.transport, args.env)
        token = prepare_database(python, service, env)
        setup = Setup(python, service, env, logs, token)
        document = measure_all(args, cells, variants, setup, upstream_port, revision)
        document["database"] = database_url
    elapsed = time.monotonic() - start
    print(f"harness wall time: {elapsed:.0f} s")
    document["wall_seconds"] = elapsed
    log(f"wrote {write(args.results, args.label, document)}")


def measure_all(
    args: argparse.Namespace,
    cells: list[Cell],
    variants: list[str],
    setup: Setup,
    port: int,
    revision: str,
) -> dict[str, Any]:
    """The upstream, the cells' rounds (or slices) and profiles; prints the table."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    upstream_process = subprocess.Popen(
        [str(setup.python), str(BENCH / "upstream_server.py"), str(port), str(UPSTREAM_DELAY)],
        stdout=subprocess.DEVNULL,
    )
    profiles: dict[str, dict[str, list[tuple[str, float]]]] = {}
    try:
        upstream = psutil.Process(upstream_process.pid)
        time.sleep(0.5)
        ceiling = upstream_ceiling(port, max(c.connections for c in cells), args.duration)
        samples = run_cells(cells, variants, setup, upstream, args)
        for profiled in [v for v in ("baked", "quart") if v in variants and args.profile]:
            with serving(profiled, setup) as (url, server):
                profiles[profiled] = {
                    c.name: profile(url, c, server, credentials(url, c, setup), args.duration)
                    for c in cells
                }
    finally:
        upstream_process.terminate()
        upstream_process.wait()
    table = summarize(samples, cells, variants)
    schedule = f"{args.paired} paired slices" if args.paired else f"{args.runs} interleaved rounds"
    print(
        f"\nasync-flask-service bench at {revision}, {started}, "
        f"{schedule} of {args.duration} s per cell, 1 hypercorn worker each, user store "
        f"{args.store}, upstream transport {args.transport}, upstream delay "
        f"{UPSTREAM_DELAY * 1000:.0f} ms; medians"
    )
    print(
        f"upstream ceiling: {ceiling['rps']:.0f} req/s at {ceiling['connections']} connections "
        f"(connections/delay {ceiling['limit']:.0f})\n"
    )
    print_table(table, variants, "slices" if args.paired else "rounds")
    for variant, by_cell in profiles.items():
        for cell_name, top in by_cell.items():
            print(f"py-spy self time, {variant}, {cell_name}:")
            for name, share in top:
                print(f"  {share:5.1f}%  {name}")
    return {
        "started": started,
        "revision": revision,
        "args": vars(args),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "upstream_ceiling": ceiling,
        "answers": setup.answers,
        "samples": as_json(samples),
        "table": table,
        "profiles": profiles,
    }


if __name__ == "__main__":
    main()
