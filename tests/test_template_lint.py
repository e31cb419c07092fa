"""Keep the template's own Python (hooks, tests, bench) lint- and type-clean.

The generated service is linted separately, after baking. Config for both
tools lives in the top-level pyproject.toml; caches are disabled so the
check leaves nothing behind in the repository.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO_ROOT

COMMANDS = {
    "ruff-check": ["-m", "ruff", "check", "--no-cache", "."],
    "ruff-format": ["-m", "ruff", "format", "--no-cache", "--check", "."],
    "mypy": ["-m", "mypy", "--cache-dir", "/dev/null"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_template_code_is_clean(name: str) -> None:
    result = subprocess.run(
        [sys.executable, *COMMANDS[name]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
