"""Bake services and hold them to the promises the template makes about generated code:
their own test suite passes, ruff, ``mypy --strict`` and the import contracts are clean, and
the package builds into a wheel that carries its migrations and templates."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import conftest
import pytest
from conftest import run_in_service

CHECKS = {
    "pytest": ["-m", "pytest", "-q", "-p", "no:cacheprovider"],
    "ruff-check": ["-m", "ruff", "check", "--no-cache", "."],
    "ruff-format": ["-m", "ruff", "format", "--no-cache", "--check", "."],
    # One cache for every bake of the run (next to the exported template, removed with it):
    # the bakes share most of what mypy reads. mypy checks each file's hash against it.
    "mypy-strict": ["-m", "mypy", "--cache-dir", "{mypy_cache}"],
    "import-contracts": ["-c", "from importlinter.cli import lint_imports_command as c; c()"],
}


def assert_ok(path: Path, name: str) -> None:
    cache = str(conftest.TEMPLATE.parent / "mypy-cache")
    result = run_in_service(path, *(arg.format(mypy_cache=cache) for arg in CHECKS[name]))
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("name", CHECKS)
def test_default_service_passes(baked_default: Path, name: str) -> None:
    assert_ok(baked_default, name)


def test_default_service_builds_a_complete_wheel(baked_default: Path, tmp_path: Path) -> None:
    result = run_in_service(
        baked_default,
        *("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."),
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("my_service-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "my_service/py.typed",
        "my_service/templates/login.html",
        "my_service/users/sql/migrations/env.py",
        "my_service/users/sql/migrations/script.py.mako",
        "my_service/users/sql/migrations/versions/0001_users_and_login_sessions.py",
        "my_service/users/sql/migrations/versions/0002_logins.py",
    ):
        assert needed in names


#: Bakes that differ in what the code does: their own suites run, with every check.
VARIANTS: dict[str, dict[str, Any]] = {
    # Each store's own suite: PostgreSQL against the machine's server, a database per test.
    "postgres-store": {"user_store": "postgres"},
    # Users in another service: its own suite runs against a stand-in user service.
    "http-store": {"user_store": "http", "project_name": "Shop Front"},
    # A leading digit (the package becomes svc_3d_...) and non-ASCII in one name.
    "odd-name": {"project_name": "3D Café Ünïcode Señor"},
}
#: Bakes that differ only in what is rendered: the static checks are what can break.
RENDERINGS: dict[str, dict[str, Any]] = {
    "python-3.13": {"project_name": "Billing Service 2", "python_version": "3.13"},
    "odd-description": {"description": 'Says "hi" \\o/ and it\'s fine'},
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_services_pass_everything(cookies: Any, variant: str) -> None:
    result = cookies.bake(extra_context=VARIANTS[variant])
    assert result.exit_code == 0, result.exception
    path = Path(result.project_path)
    for name in CHECKS:
        assert_ok(path, name)


@pytest.mark.slow
@pytest.mark.parametrize("variant", RENDERINGS)
def test_variant_renderings_pass_the_static_checks(cookies: Any, variant: str) -> None:
    result = cookies.bake(extra_context=RENDERINGS[variant])
    assert result.exit_code == 0, result.exception
    path = Path(result.project_path)
    for name in CHECKS:
        if name != "pytest":
            assert_ok(path, name)
