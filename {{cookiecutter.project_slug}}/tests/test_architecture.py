"""The layers of the package, checked by import-linter with the contracts in pyproject.toml:
they hold today, and each one breaks when code imports what its layer must not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }}

PACKAGE = Path({{ cookiecutter.package_name }}.__file__).parent
PROJECT = PACKAGE.parents[1]
NAME = PACKAGE.name


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on ``project`` (a folder with pyproject.toml and src/)."""
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"],
        cwd=project,
        env={"PYTHONPATH": str(project / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_contracts_hold() -> None:
    result = lint_imports(PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("bridge/portal.py", f"import {NAME}.web.auth", "The bridge imports nothing else"),
        ("bridge/portal.py", "import flask", "The portal knows no Flask"),
        ("users/models.py", "import flask", "Users and clients know no Flask"),
        ("clients/http.py", f"import {NAME}.bridge", "Users and clients know no Flask"),
        ("web/health.py", "import sqlalchemy", "Web code knows no driver"),
        ("resources.py", f"import {NAME}.web.errors", "Dependencies point one way"),
        ("observability/metrics.py", f"import {NAME}.settings", "Dependencies point one way"),
        ("observability/requests.py", "import flask", "Observability knows no Flask"),
        ("bridge/asgi.py", f"import {NAME}.observability", "The bridge imports nothing else"),
        ("users/models.py", "import prometheus_client", "The stores know nothing of metrics"),
        ("users/models.py", f"import {NAME}.observability", "The stores know nothing of metrics"),
{%- if cookiecutter.user_store == "http" %}
        ("users/http_store.py", f"import {NAME}.resources", "Dependencies point one way"),
        ("users/http_store.py", "import flask", "Users and clients know no Flask"),
{%- else %}
        ("users/passwords.py", f"import {NAME}.resources", "Dependencies point one way"),
{%- endif %}
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        PACKAGE, project / "src" / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(PROJECT / "pyproject.toml", project)
    target = project / "src" / PACKAGE.name / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(project)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), result.stdout
