"""``--profile``: sample a serving worker with py-spy under load; self time by function."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psutil

from harness.cells import Cell
from harness.load import wrk, wrk_env
from harness.serve import Auth, tree


def profile(
    url: str, cell: Cell, server: psutil.Process, auth: Auth, seconds: int
) -> list[tuple[str, float]]:
    """Sample the worker with py-spy during one wrk run; shares by package, then function."""
    workers = [p for p in tree(server) if "spawn_main" in " ".join(p.cmdline())] or [server]
    py_spy = Path(sys.executable).parent / "py-spy"
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "stacks.txt"
        options = ["--duration", str(seconds), "--rate", "250", "--format", "raw"]
        options += ["--nonblocking", "--full-filenames", "--output", str(raw)]
        spy = subprocess.Popen(
            [str(py_spy), "record", "--pid", str(workers[0].pid), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wrk(url + cell.path, cell.connections, seconds, wrk_env(cell, auth))
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
