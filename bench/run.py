"""The benchmark harness: the baked service against Quart and stock Flask, in one run.

    scripts/bench [--runs 3] [--duration 5] [--cells json,up100] [--profile]

What one run does (see docs/performance.md for how to read the table):

1. Bakes the default service from this checkout into ``bench/.scratch/`` and installs it, with
   the reference apps' dependencies, into ``bench/.scratch/venv`` (kept between runs and
   rebuilt when a pyproject changes). Migrates its SQLite file and creates a user.
2. Starts the delayed upstream (``upstream_server.py``, 50 ms) and measures its own ceiling.
3. For each of ``--runs`` rounds and each cell, runs the variants back to back (in an order
   that rotates, so drift on this shared machine hits all alike), each with the same
   ``hypercorn.toml`` (one worker): the baked service, ``apps/quart_app.py`` and
   ``apps/stock_app.py``. Every measurement gets a freshly started worker: wrk for
   ``--warmup`` seconds, a pause until the worker has finished what that left in flight, then
   ``--duration`` seconds measured. A request fails if it errs, answers 4xx/5xx or takes
   over 5 s.
4. Prints medians over the rounds (requests/s, p50, p99, errors, the server's peak RSS and
   CPU per request) and the ratios, and writes it all as JSON under ``bench/results/``.

With ``--paired N`` each cell instead starts every variant at once and alternates N measured
slices of ``--duration`` seconds between them (order rotating, each slice once the worker is
idle): slices seconds apart share the machine's state, so the per-slice ratios pin a
difference down better than rounds minutes apart. The table then reports medians over slices.
A slice must be long against the cell's latency (wrk reconnects for each one), so short
slices suit the fast cells (json, me) and the harness warns when a cell's answers are slow.

With ``--profile`` it then samples the baked service and Quart on each cell with py-spy and
prints where their CPU goes (self time by function).

Numbers only: nothing here asserts a threshold. The machine is shared and noisy; compare
variants measured in the same run, never figures from different runs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SCRATCH = BENCH / ".scratch"
RESULTS = BENCH / "results"
PACKAGE = "my_service"
ENV_PREFIX = "MY_SERVICE_"
UPSTREAM_DELAY = 0.05
#: wrk counts a request that takes longer than this as an error (timeout); the service's own
#: default upstream read timeout is the same.
TIMEOUT = 5
USER_AGENT = "async-flask-service-bench"
USERNAME = "bench"
PASSWORD = "bench-password-0123"
VARIANTS = {
    "baked": f"{PACKAGE}.asgi:app",
    "quart": "quart_app:app",
    "stock": "stock_app:app",
}


@dataclass(frozen=True)
class Cell:
    name: str
    path: str
    connections: int
    #: The JSON every variant must answer with, checked before each measurement, so that a
    #: variant cannot look fast by answering something else (an error, say).
    expect: Any
    method: str = "GET"
    body: str = ""
    cookie: bool = False
    upstream: bool = False


UPSTREAM_ANSWER = {"upstream": {"ok": True}, "upstream_status": 200}
USER_ANSWER = {"id": 1, "username": USERNAME}
CELLS = [
    Cell("json", "/healthz", 50, {"status": "ok"}),
    Cell("up10", "/upstream", 10, UPSTREAM_ANSWER, upstream=True),
    Cell("up100", "/upstream", 100, UPSTREAM_ANSWER, upstream=True),
    Cell("up400", "/upstream", 400, UPSTREAM_ANSWER, upstream=True),
    Cell("me", "/auth/me", 100, USER_ANSWER, cookie=True),
    Cell(
        "login",
        "/auth/login",
        20,
        USER_ANSWER,
        method="POST",
        body=json.dumps({"username": USERNAME, "password": PASSWORD}),
    ),
]


@dataclass
class Sample:
    """One wrk run against one variant."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_kinds: dict[str, int]
    peak_rss_mb: float
    cpu_us_per_request: float
    server_cpu_percent: float
    upstream_cpu_percent: float


@dataclass
class Report:
    started: str
    args: dict[str, Any]
    machine: dict[str, Any]
    upstream_ceiling: dict[str, float] = field(default_factory=dict)
    samples: dict[str, dict[str, list[Sample]]] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- preparing the service ---------------------------------------------------------------


def bake(scratch: Path, revision: str | None) -> Path:
    """Bake the default service into ``scratch``: from the working tree, or a git revision."""
    from cookiecutter.main import cookiecutter

    service = scratch / "my-service"
    shutil.rmtree(service, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        if revision is None:
            export = [str(REPO / "scripts" / "export-template"), str(template)]
            subprocess.run(export, check=True)
        else:
            template.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", revision], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(template)], input=archive.stdout, check=True)
        cookiecutter(str(template), no_input=True, default_config=True, output_dir=str(scratch))
    return service


def bench_requirements() -> list[str]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    requirements: list[str] = project["optional-dependencies"]["bench"]
    return requirements


def install(service: Path, venv: Path) -> Path:
    """Install the baked service and the references' dependencies; reuse a matching venv."""
    python = venv / "bin" / "python"
    stamp = venv / ".bench-stamp"
    fingerprint = hashlib.sha256(
        (service / "pyproject.toml").read_bytes() + "\n".join(bench_requirements()).encode()
    ).hexdigest()
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", "install"]
    if not (stamp.exists() and stamp.read_text() == fingerprint):
        log(f"creating {venv} (once; reused while the pyproject files are unchanged)")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        quiet_run([*pip, str(service), *bench_requirements()])
        stamp.write_text(fingerprint)
    # The service itself changes with every edit of the template: always reinstall it.
    quiet_run([*pip, "--no-deps", "--force-reinstall", str(service)])
    return python


def quiet_run(command: list[str], **kwargs: Any) -> None:
    """Run a setup command; show its output only if it fails (pip warns about mirrors)."""
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        shown = " ".join(command[:4])
        raise SystemExit(f"bench: {shown}... failed:\n{result.stdout}{result.stderr}")


def prepare_database(python: Path, service: Path, env: dict[str, str]) -> None:
    flask = [str(python), "-m", "flask", "--app", PACKAGE]
    quiet_run([*flask, "db", "upgrade"], cwd=service, env=env)
    quiet_run(
        [*flask, "users", "create", USERNAME, "--password-stdin"],
        cwd=service,
        env=env,
        input=PASSWORD + "\n",
    )


# --- processes -----------------------------------------------------------------------------


def tree(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: server exited early; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: server did not answer within 60 s; see {log_path}")


@contextmanager
def serving(
    variant: str, python: Path, service: Path, env: dict[str, str], logs: Path
) -> Iterator[tuple[str, psutil.Process]]:
    """Run one variant under hypercorn with the baked service's own hypercorn.toml."""
    port = free_port()
    log_path = logs / f"{variant}.log"
    with log_path.open("ab") as output:
        process = subprocess.Popen(
            [
                str(python),
                "-m",
                "hypercorn",
                "--config",
                "hypercorn.toml",
                "--bind",
                f"127.0.0.1:{port}",
                VARIANTS[variant],
            ],
            cwd=service,
            env={**env, "PYTHONPATH": str(BENCH / "apps")},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, log_path)
        yield url, psutil.Process(process.pid)
    finally:
        # Hypercorn would let orphaned requests finish for graceful_timeout (10 s); the
        # measurement is over, so give it two seconds and then stop the whole tree.
        processes = tree(psutil.Process(process.pid))
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            for proc in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            process.wait()


@contextmanager
def answering(
    variant: str, cell: Cell, run: tuple[Path, Path, dict[str, str], Path]
) -> Iterator[tuple[str, psutil.Process, str]]:
    """A variant serving, logged in if ``cell`` needs it, checked to answer ``cell`` right.

    Yields its URL, its process and the Cookie header for the cell's requests.
    """
    with serving(variant, *run) as (url, server):
        cookie = session_cookie(url) if cell.cookie else ""
        check_answer(variant, url, cell, cookie)
        yield url, server, cookie


def call(url: str, cell: Cell, cookie: str = "") -> tuple[Any, list[str]]:
    """One request as wrk sends it; the JSON answer and the Set-Cookie headers."""
    headers = {
        "Accept": "application/json",
        "User-Agent": USER_AGENT,  # as wrk_report.lua sends: session protection checks it
    }
    if cell.body:
        headers["Content-Type"] = "application/json"
    if cookie:
        headers["Cookie"] = cookie
    request = urllib.request.Request(
        url + cell.path, data=cell.body.encode() or None, headers=headers, method=cell.method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply), reply.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read().decode(errors="replace")}, []


def session_cookie(url: str) -> str:
    """Log in once and return the Cookie header that authenticates as the bench user."""
    login = next(cell for cell in CELLS if cell.name == "login")
    _, cookies = call(url, login)
    return "; ".join(cookie.split(";", 1)[0] for cookie in cookies)


def check_answer(variant: str, url: str, cell: Cell, cookie: str) -> None:
    answer, _ = call(url, cell, cookie)
    if answer != cell.expect:
        raise SystemExit(
            f"bench: {variant} answers {cell.method} {cell.path} with {answer!r}, "
            f"not {cell.expect!r}; the comparison would be meaningless"
        )


# --- load ----------------------------------------------------------------------------------


def wrk(url: str, connections: int, seconds: int, env: dict[str, str]) -> dict[str, int]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, seconds)}s",
        "--timeout",
        f"{TIMEOUT}s",
        "-s",
        str(BENCH / "wrk_report.lua"),
        url,
    ]
    result = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    summary: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def wrk_env(cell: Cell, cookie: str) -> dict[str, str]:
    """What wrk_report.lua reads: the cell's method and body, and the cookie if it needs one."""
    return {
        "WRK_METHOD": cell.method,
        "WRK_BODY": cell.body,
        "WRK_COOKIE": cookie if cell.cookie else "",
    }


def wait_until_idle(processes: list[psutil.Process], timeout: float = 20) -> None:
    """Wait for the workers to finish what the warm-up left in flight.

    wrk drops its connections when it stops. Stock Flask still completes every request it had
    accepted; the baked service and Quart cancel the abandoned ones, but work already running
    in a thread (a password hash) finishes. Measuring on top of that backlog would charge one
    cell for the previous load.
    """
    deadline = time.monotonic() + timeout
    before = cpu_seconds(processes)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(processes)
        if now - before < 0.025:  # under a tenth of a core: idle
            return
        before = now


class Sampler:
    """Peak RSS of a process tree, sampled every 50 ms while a measurement runs."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(tree(self.process)))

    def __enter__(self) -> Sampler:
        self.peak = rss_mb(tree(self.process))
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(
    url: str,
    cell: Cell,
    server: psutil.Process,
    upstream: psutil.Process,
    cookie: str,
    args: argparse.Namespace,
    *,
    warm_up: bool = True,
) -> Sample:
    env = wrk_env(cell, cookie)
    if warm_up:
        wrk(url + cell.path, cell.connections, args.warmup, env)
    processes = tree(server)
    wait_until_idle(processes)
    cpu_before, upstream_before = cpu_seconds(processes), cpu_seconds([upstream])
    started = time.monotonic()
    with Sampler(server) as sampler:
        summary = wrk(url + cell.path, cell.connections, args.duration, env)
    wall = time.monotonic() - started
    cpu = cpu_seconds(processes) - cpu_before
    kinds = {k: summary[k] for k in ("connect", "read", "write", "status", "timeout") if summary[k]}
    requests = summary["requests"]
    return Sample(
        rps=requests / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        errors=sum(kinds.values()),
        error_kinds=kinds,
        peak_rss_mb=sampler.peak,
        cpu_us_per_request=cpu / max(requests, 1) * 1e6,
        server_cpu_percent=cpu / wall * 100,
        upstream_cpu_percent=(cpu_seconds([upstream]) - upstream_before) / wall * 100,
    )


def paired(
    cell: Cell,
    variants: list[str],
    run: tuple[Path, Path, dict[str, str], Path],
    upstream: psutil.Process,
    args: argparse.Namespace,
) -> dict[str, list[Sample]]:
    """``--paired``: every variant serving at once, wrk alternating between them in slices."""
    samples: dict[str, list[Sample]] = {variant: [] for variant in variants}
    with contextlib.ExitStack() as stack:
        servers = {}
        for variant in variants:
            url, server, cookie = stack.enter_context(answering(variant, cell, run))
            wrk(url + cell.path, cell.connections, args.warmup, wrk_env(cell, cookie))
            servers[variant] = url, server, cookie
        for index in range(args.paired):
            shift = index % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                url, server, cookie = servers[variant]
                # Every variant, not just the one measured next: a server still finishing
                # requests the last slice's wrk abandoned would take CPU from this slice.
                wait_until_idle([p for _, other, _ in servers.values() for p in tree(other)])
                sample = measure(url, cell, server, upstream, cookie, args, warm_up=False)
                samples[variant].append(sample)
    # wrk opens its connections afresh for every slice and counts only requests that finish
    # in it: a slice not much longer than the answers take measures ramp-up, not the server.
    slow = max(s.p50_ms for runs in samples.values() for s in runs)
    if slow > args.duration * 1000 / 10:
        log(
            f"warning: {cell.name}: answers take up to {slow:.0f} ms at the median, too long "
            f"for {args.duration} s slices; its figures are biased low (use a longer --duration)"
        )
    return samples


# --- profiling -----------------------------------------------------------------------------


def profile(
    url: str, cell: Cell, server: psutil.Process, cookie: str, args: argparse.Namespace
) -> list[tuple[str, float]]:
    """Sample the worker with py-spy during one wrk run; return self time per function."""
    workers = [p for p in tree(server) if "spawn_main" in " ".join(p.cmdline())] or [server]
    py_spy = Path(sys.executable).parent / "py-spy"
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "stacks.txt"
        spy = subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(workers[0].pid),
                "--duration",
                str(int(args.duration)),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "--full-filenames",
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wrk(url + cell.path, cell.connections, args.duration, wrk_env(cell, cookie))
        spy.wait()
        by_function: Counter[str] = Counter()
        by_package: Counter[str] = Counter()
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            function, package = _where(stack.rsplit(";", 1)[-1])
            by_function[function] += int(count)
            by_package[package] += int(count)
    total = sum(by_function.values()) or 1
    return [
        *((f"[{name}]", count / total * 100) for name, count in by_package.most_common(8)),
        *((name, count / total * 100) for name, count in by_function.most_common(12)),
    ]


def _where(frame: str) -> tuple[str, str]:
    """``func (.../site-packages/pkg/module.py:12)`` -> (``func (pkg/module.py)``, ``pkg``)."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    elif "apps" in parts:
        parts = parts[parts.index("apps") :]
    else:  # the standard library
        parts = ["stdlib", *parts[-1:]]
    return f"{name} ({'/'.join(parts[-2:])})", parts[0]


# --- report --------------------------------------------------------------------------------


def median_sample(samples: list[Sample]) -> dict[str, Any]:
    return {
        "rps": statistics.median(s.rps for s in samples),
        "p50_ms": statistics.median(s.p50_ms for s in samples),
        "p99_ms": statistics.median(s.p99_ms for s in samples),
        "errors": sum(s.errors for s in samples),
        "peak_rss_mb": max(s.peak_rss_mb for s in samples),
        "cpu_us_per_request": statistics.median(s.cpu_us_per_request for s in samples),
        "server_cpu_percent": statistics.median(s.server_cpu_percent for s in samples),
        "upstream_cpu_percent": statistics.median(s.upstream_cpu_percent for s in samples),
    }


def summarize(report: Report, cells: list[Cell], variants: list[str]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for cell in cells:
        row: dict[str, Any] = {"connections": cell.connections}
        for variant in variants:
            row[variant] = median_sample(report.samples[variant][cell.name])
        baked = row.get("baked", {}).get("rps")
        for other in ("quart", "stock"):
            if baked is not None and other in row and row[other]["rps"] > 0:
                row[f"baked/{other}"] = baked / row[other]["rps"]
                # Each round's own ratio: how far one round can stray on this machine.
                rounds = report.samples["baked"][cell.name], report.samples[other][cell.name]
                pairs = zip(*rounds, strict=True)
                row[f"baked/{other} by round"] = [b.rps / o.rps for b, o in pairs if o.rps > 0]
        if cell.upstream and baked is not None:
            row["baked/limit"] = baked / (cell.connections / UPSTREAM_DELAY)
        table[cell.name] = row
    return table


def print_table(table: dict[str, Any], variants: list[str], unit: str = "rounds") -> None:
    header = (
        f"{'cell':<7}{'conns':>6}  {'variant':<7}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'RSS MB':>8}{'CPU µs/req':>11}{'CPU %':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, row in table.items():
        for index, variant in enumerate(variants):
            m = row[variant]
            lead = f"{name:<7}{row['connections']:>6}" if index == 0 else " " * 13
            print(
                f"{lead}  {variant:<7}{m['rps']:>9.0f}{m['p50_ms']:>9.1f}{m['p99_ms']:>9.1f}"
                f"{m['errors']:>8}{m['peak_rss_mb']:>8.0f}{m['cpu_us_per_request']:>11.0f}"
                f"{m['server_cpu_percent']:>7.0f}"
            )
        ratios = [
            f"{key} {row[key]:.2f}{_round_range(row.get(key + ' by round', []), unit)}"
            for key in ("baked/quart", "baked/stock", "baked/limit")
            if key in row
        ]
        print(" " * 15 + "ratios: " + ", ".join(ratios))
    print()


def _round_range(ratios: list[float], unit: str = "rounds") -> str:
    """`` (rounds 0.84-1.04)`` for two rounds or more: the spread the median hides.

    With many slices (``--paired``) the median of the slices' own ratios is added: a pair of
    slices shares the machine's state, so that median is the steadier estimate.
    """
    if len(ratios) < 2:
        return ""
    median = f", median {statistics.median(ratios):.2f}" if unit == "slices" else ""
    return f" ({unit} {min(ratios):.2f}-{max(ratios):.2f}{median})"


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--duration", type=int, default=5, help="seconds measured per cell")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of load before each")
    parser.add_argument("--cells", default=",".join(c.name for c in CELLS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--paired", type=int, default=0, help="instead of rounds: N alternating slices per cell"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the baked and Quart apps")
    parser.add_argument("--label", default="", help="a word for the result file name")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument(
        "--revision", help="bake the service from this git revision (before/after figures)"
    )
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the servers")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cells = [c for c in CELLS if c.name in args.cells.split(",")]
    variants = [v for v in args.variants.split(",") if v in VARIANTS]
    if not cells or not variants:
        raise SystemExit("bench: no cells or no variants selected")
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (scripts/bench installs it)")
    start = time.monotonic()
    SCRATCH.mkdir(exist_ok=True)
    if args.revision and variants != ["baked"]:
        raise SystemExit("bench: --revision bakes an older service; use it with --variants baked")
    service = bake(SCRATCH, args.revision)
    python = install(service, SCRATCH / ("venv-" + args.revision if args.revision else "venv"))
    logs = SCRATCH / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()

    upstream_port = free_port()
    env = {
        **os.environ,
        f"{ENV_PREFIX}UPSTREAM_URL": f"http://127.0.0.1:{upstream_port}/",
        **dict(item.split("=", 1) for item in args.env),
    }
    env.pop("PYTHONPATH", None)
    prepare_database(python, service, env)
    report = Report(
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        args=vars(args),
        machine={"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        samples={v: {c.name: [] for c in cells} for v in variants},
    )
    upstream_process = subprocess.Popen(
        [str(python), str(BENCH / "upstream_server.py"), str(upstream_port), str(UPSTREAM_DELAY)],
        stdout=subprocess.DEVNULL,
    )
    try:
        upstream = psutil.Process(upstream_process.pid)
        time.sleep(0.5)
        peak = max(c.connections for c in cells)
        ceiling = wrk(f"http://127.0.0.1:{upstream_port}/", peak, args.duration, {})
        rps = ceiling["requests"] / (ceiling["duration_us"] / 1e6)
        report.upstream_ceiling = {
            "connections": peak,
            "rps": rps,
            "limit": peak / UPSTREAM_DELAY,
            "p50_ms": ceiling["p50_us"] / 1000,
        }
        log(
            f"upstream ceiling at {peak} connections: {rps:.0f} req/s "
            f"(connections/delay = {peak / UPSTREAM_DELAY:.0f}), "
            f"p50 {ceiling['p50_us'] / 1000:.1f} ms"
        )
        run = python, service, env, logs
        for cell in cells if args.paired else []:
            log(f"{cell.name}: {args.paired} slices per variant, all variants serving")
            for variant, samples in paired(cell, variants, run, upstream, args).items():
                report.samples[variant][cell.name].extend(samples)
        for round_index in range(0 if args.paired else args.runs):
            log(f"round {round_index + 1}/{args.runs}")
            for cell_index, cell in enumerate(cells):
                # The variants of one cell run back to back, in an order that rotates, so that
                # drift on this shared machine hits them alike.
                shift = (round_index + cell_index) % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    # A fresh worker per cell: a backlog left by one cell (stock Flask queues
                    # hundreds of requests in its threads) must not be measured in the next.
                    with answering(variant, cell, run) as (url, server, cookie):
                        sample = measure(url, cell, server, upstream, cookie, args)
                    report.samples[variant][cell.name].append(sample)
        table = summarize(report, cells, variants)
        profiles: dict[str, dict[str, list[tuple[str, float]]]] = {}
        if args.profile:
            for variant in [v for v in ("baked", "quart") if v in variants]:
                with serving(variant, python, service, env, logs) as (url, server):
                    cookie = session_cookie(url)
                    profiles[variant] = {
                        cell.name: profile(url, cell, server, cookie, args) for cell in cells
                    }
    finally:
        upstream_process.terminate()
        upstream_process.wait()

    elapsed = time.monotonic() - start
    print()
    schedule = f"{args.paired} paired slices" if args.paired else f"{args.runs} interleaved rounds"
    print(
        f"async-flask-service bench, {report.started}, {schedule} of "
        f"{args.duration:g} s per cell, 1 hypercorn worker each, upstream delay "
        f"{UPSTREAM_DELAY * 1000:.0f} ms; medians"
    )
    print(
        f"upstream ceiling: {report.upstream_ceiling['rps']:.0f} req/s at "
        f"{report.upstream_ceiling['connections']} connections "
        f"(connections/delay {report.upstream_ceiling['limit']:.0f})"
    )
    print()
    print_table(table, variants, "slices" if args.paired else "rounds")
    for variant, cells_profile in profiles.items():
        for cell_name, top in cells_profile.items():
            print(f"py-spy self time, {variant}, {cell_name}:")
            for name, share in top:
                print(f"  {share:5.1f}%  {name}")
    print(f"harness wall time: {elapsed:.0f} s")

    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}{'-' + args.label if args.label else ''}.json"
    document = {
        **asdict(report),
        "table": table,
        "profiles": profiles,
        "wall_seconds": elapsed,
    }
    (args.results / name).write_text(json.dumps(document, indent=1, default=str) + "\n")
    log(f"wrote {args.results / name}")


if __name__ == "__main__":
    main()
