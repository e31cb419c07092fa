"""Load a serving variant with wrk and turn what wrk and psutil saw into a :class:`Sample`."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass

import psutil

from harness.cells import BENCH, TIMEOUT, Cell
from harness.serve import Auth, Sampler, Setup, answering, cpu_seconds, tree


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


@dataclass(frozen=True)
class Timing:
    """Seconds of warm-up load before a measurement, and seconds measured."""

    warmup: int
    duration: int


def wrk(url: str, connections: int, seconds: int, env: dict[str, str]) -> dict[str, int]:
    """One wrk run; the summary ``wrk_report.lua`` prints (requests, errors, percentiles)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, seconds)}s"]
    command += ["--timeout", f"{TIMEOUT}s", "-s", str(BENCH / "wrk_report.lua"), url]
    result = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    summary: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def wrk_env(cell: Cell, auth: Auth) -> dict[str, str]:
    """What wrk_report.lua reads: the cell's method and body, and its credentials' headers."""
    return {
        "WRK_METHOD": cell.method,
        "WRK_BODY": cell.body,
        "WRK_COOKIE": auth.get("Cookie", ""),
        "WRK_AUTHORIZATION": auth.get("Authorization", ""),
    }


def wait_until_idle(processes: list[psutil.Process], timeout: float = 20) -> None:
    """Wait for the workers to finish what the warm-up left in flight.

    wrk drops its connections when it stops. Stock Flask still completes every request it had
    accepted; the others cancel the abandoned ones, but work already running in a thread (a
    password hash) finishes. Measuring on top of that backlog would charge one cell for the
    previous load.
    """
    deadline = time.monotonic() + timeout
    before = cpu_seconds(processes)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(processes)
        if now - before < 0.025:  # under a tenth of a core: idle
            return
        before = now


def measure(
    url: str,
    cell: Cell,
    server: psutil.Process,
    upstream: psutil.Process,
    auth: Auth,
    timing: Timing,
    *,
    warm_up: bool = True,
) -> Sample:
    env = wrk_env(cell, auth)
    if warm_up:
        wrk(url + cell.path, cell.connections, timing.warmup, env)
    processes = tree(server)
    wait_until_idle(processes)
    cpu_before, upstream_before = cpu_seconds(processes), cpu_seconds([upstream])
    started = time.monotonic()
    with Sampler(server) as sampler:
        summary = wrk(url + cell.path, cell.connections, timing.duration, env)
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


def rounds(
    cell: Cell, variants: list[str], shift: int, setup: Setup, upstream: psutil.Process, t: Timing
) -> dict[str, Sample]:
    """One round of ``cell``: the variants back to back, in an order rotated by ``shift``.

    Each gets a freshly started worker: a backlog left by one cell (stock Flask queues hundreds
    of requests in its threads) must not be measured in the next.
    """
    samples = {}
    shift %= len(variants)
    for variant in variants[shift:] + variants[:shift]:
        with answering(variant, cell, setup) as (url, server, auth):
            samples[variant] = measure(url, cell, server, upstream, auth, t)
    return samples


def paired(
    cell: Cell,
    variants: list[str],
    slices: int,
    setup: Setup,
    upstream: psutil.Process,
    timing: Timing,
) -> dict[str, list[Sample]]:
    """``--paired``: every variant serving at once, wrk alternating between them in slices."""
    samples: dict[str, list[Sample]] = {variant: [] for variant in variants}
    with contextlib.ExitStack() as stack:
        servers = {}
        for variant in variants:
            url, server, auth = stack.enter_context(answering(variant, cell, setup))
            wrk(url + cell.path, cell.connections, timing.warmup, wrk_env(cell, auth))
            servers[variant] = url, server, auth
        everyone = [p for _, server, _ in servers.values() for p in tree(server)]
        for index in range(slices):
            shift = index % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                url, server, auth = servers[variant]
                # Every variant, not just the one measured next: a server still finishing
                # requests the last slice's wrk abandoned would take CPU from this slice.
                wait_until_idle(everyone)
                sample = measure(url, cell, server, upstream, auth, timing, warm_up=False)
                samples[variant].append(sample)
    return samples
