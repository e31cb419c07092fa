"""Security scans of baked services: bandit finds nothing of medium severity or above in any
store's bake. (pip-audit cannot run here: its vulnerability services, PyPI's JSON API and
OSV, are not reachable from this machine; the generated CI workflow runs ``make audit``.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BANDIT = str(Path(sys.executable).parent / "bandit")


def bandit(project: Path) -> subprocess.CompletedProcess[str]:
    """bandit over a baked service's ``src``, reporting medium severity and above."""
    command = [BANDIT, "--quiet", "--recursive", "src", "--severity-level", "medium"]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("store", ["sqlite", "postgres", "http"])
def test_bandit_finds_nothing_of_medium_severity_or_above(cookies: Any, store: str) -> None:
    result = cookies.bake(extra_context={"user_store": store})
    assert result.exit_code == 0, result.exception
    scan = bandit(Path(result.project_path))
    assert scan.returncode == 0, scan.stdout + scan.stderr


def test_bandit_would_report_a_medium_finding(cookies: Any) -> None:
    """The scan is live: code that binds every interface (B104, medium) fails it."""
    result = cookies.bake()
    package = Path(result.project_path) / "src" / "my_service"
    (package / "web" / "careless.py").write_text('HOST = "0.0.0.0"\n')
    scan = bandit(Path(result.project_path))
    assert scan.returncode == 1
    assert "B104" in scan.stdout
