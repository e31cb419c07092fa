"""Write the new service's ``uv.lock`` at generation time (the ``lock dependencies`` step).

The lock pins every dependency of the service, its ``dev`` extra included, for every platform
and supported Python, with hashes: ``uv sync --locked`` (the Makefile, CI, the Dockerfile) then
installs exactly that. Resolving needs the package index and a Python that meets the
service's ``requires-python``, so a generation made offline, without uv, or without that Python
still succeeds: the step prints one ``warning:`` line saying why there is no lock, and
``make lock`` writes it later. A lock made at generation time is the only one that fits
every answer (name, Python floor, pruned files); a lock shipped inside the template would not.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: A cold resolve takes seconds; a slow index, or uv fetching a missing Python, takes longer.
LOCK_TIMEOUT = 300.0


def uv_command() -> list[str] | None:
    """uv installed beside the Python that runs the hooks (cookiecutter's), else the one on
    ``PATH``; None when there is neither."""
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    found = shutil.which("uv")
    return [found] if found else None


def first_error(output: str) -> str:
    """uv's own reason from its output, on one line: the first ``error:`` line and the
    ``cause:`` line under it (``Request failed ...: Failed to fetch: <url>``), else the last
    line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith("error:"):
            reason = line.removeprefix("error:").strip()
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if following.startswith("cause:"):
                reason += ": " + following.removeprefix("cause:").strip()
            return reason
    return lines[-1] if lines else "no output"


def lock(project: Path) -> str | None:
    """Run ``uv lock`` in ``project``. None when ``uv.lock`` was written (or there is no
    ``pyproject.toml`` to lock), else one line saying why not."""
    if not (project / "pyproject.toml").is_file():
        return None
    uv = uv_command()
    if uv is None:
        return "uv is not installed (https://docs.astral.sh/uv/)"
    # Locking needs a Python that meets requires-python; without one, say so rather than have
    # uv download one (tens of MB) during generation, unless the user asked uv to.
    environment = {"UV_PYTHON_DOWNLOADS": "never", **os.environ}
    # uv wraps its messages to COLUMNS (a terminal's width); unwrapped, first_error() reads
    # the whole reason from one line.
    environment.pop("COLUMNS", None)
    try:
        result = subprocess.run(
            [*uv, "lock"],
            cwd=project,
            env=environment,
            capture_output=True,
            text=True,
            timeout=LOCK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"uv lock took longer than {LOCK_TIMEOUT:.0f} s"
    if result.returncode != 0:
        return f"uv lock: {first_error(result.stderr or result.stdout)}"
    return None
