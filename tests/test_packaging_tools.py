"""The developer tooling every service gets: the uv.lock written at generation time, the
pre-commit hooks, and .editorconfig; checked on the default bake, offline.

Container, compose, CI and Kubernetes files: tests/test_packaging.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import editorconfig
import pytest
import yaml
from conftest import run_in_service
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

HOOKS = {"ruff", "ruff-format", "mypy", "import-linter"}
GIT = shutil.which("git") or "git"


# --- uv.lock ------------------------------------------------------------------------------------


def locked_packages(service: Path) -> dict[str, dict[str, Any]]:
    lock = tomllib.loads((service / "uv.lock").read_text(encoding="utf-8"))
    return {canonicalize_name(package["name"]): package for package in lock["package"]}


def test_the_lock_pins_every_dependency_with_hashes(baked_default: Path) -> None:
    project = tomllib.loads((baked_default / "pyproject.toml").read_text(encoding="utf-8"))
    packages = locked_packages(baked_default)
    assert packages["my-service"]["source"] == {"editable": "."}

    wanted = project["project"]["dependencies"] + project["project"]["optional-dependencies"]["dev"]
    for line in wanted:
        requirement = Requirement(line)
        locked = packages[canonicalize_name(requirement.name)]
        assert Version(locked["version"]) in requirement.specifier, line
    assert "coredis" in packages, "extras are locked too: limits[async-redis]"

    for name, package in packages.items():
        if name == "my-service":
            continue
        files = package.get("wheels", []) + ([package["sdist"]] if "sdist" in package else [])
        assert files, name
        assert all(file["hash"].startswith("sha256:") for file in files), name


def uv_lock_check(service: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """``uv lock --check --offline`` with an empty cache: no index, nothing remembered."""
    return subprocess.run(
        [sys.executable, "-m", "uv", "lock", "--check", "--offline"],
        cwd=service,
        env={**os.environ, "UV_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_uv_tells_offline_whether_the_lock_is_current(baked_default: Path, tmp_path: Path) -> None:
    """What `uv sync --locked` in the Makefile, CI and the Dockerfile relies on: a lock that
    matches pyproject.toml passes, and one that a dependency change left behind fails."""
    service = tmp_path / "service"
    shutil.copytree(baked_default, service)
    current = uv_lock_check(service, tmp_path / "cache")
    assert current.returncode == 0, current.stderr

    pyproject = service / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('"structlog>=24.1",', '"structlog>=24.1", "rich",'))
    # Offline, uv cannot resolve the change, so it fails; online it says "The lockfile at
    # `uv.lock` needs to be updated". Either way the install stops before anything unpinned.
    stale = uv_lock_check(service, tmp_path / "cache")
    assert stale.returncode == 1, stale.stderr


# --- pre-commit ---------------------------------------------------------------------------------


def test_every_hook_runs_the_services_own_tools(baked_default: Path) -> None:
    """Local hooks of the ``unsupported`` language run a command as it is: pre-commit builds no
    environment and downloads nothing, so they work offline."""
    config = yaml.safe_load((baked_default / ".pre-commit-config.yaml").read_text("utf-8"))
    assert {repo["repo"] for repo in config["repos"]} == {"local", "meta"}
    (local,) = [repo for repo in config["repos"] if repo["repo"] == "local"]
    assert {hook["id"] for hook in local["hooks"]} == HOOKS
    for hook in local["hooks"]:
        assert hook["language"] == "unsupported", hook["id"]
        assert hook["entry"].startswith("uv run --no-sync "), hook["id"]


def pre_commit(service: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pre-commit run`` in ``service``; the hooks' ``uv run`` uses this venv, which holds
    the service's dev tools (scripts/bootstrap installs them), as the service's .venv would."""
    return run_in_service(
        service,
        *("-m", "pre_commit", "run", *args),
        env={
            "UV_PROJECT_ENVIRONMENT": sys.prefix,
            "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
            "VIRTUAL_ENV": sys.prefix,
        },
    )


def test_pre_commit_passes_on_a_new_service_and_stops_a_lint_error(
    baked_default: Path, tmp_path: Path
) -> None:
    service = tmp_path / "service"
    shutil.copytree(baked_default, service)
    for command in (["init", "--quiet"], ["add", "--all"]):
        subprocess.run([GIT, *command], cwd=service, check=True)

    clean = pre_commit(service, tmp_path, "--all-files")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    for name in ("ruff check", "ruff format", "mypy", "import contracts"):
        assert any(
            line.startswith(name) and line.endswith("Passed") for line in clean.stdout.splitlines()
        ), clean.stdout

    (service / "src" / "my_service" / "unused.py").write_text("import os\n", encoding="utf-8")
    subprocess.run([GIT, "add", "--all"], cwd=service, check=True)
    dirty = pre_commit(service, tmp_path, "ruff", "--all-files")
    assert dirty.returncode == 1
    assert "F401" in dirty.stdout


# --- .editorconfig ------------------------------------------------------------------------------


def editorconfig_problems(path: Path) -> list[str]:
    """How ``path`` breaks the properties its .editorconfig gives it (empty files are fine)."""
    properties = editorconfig.get_properties(str(path))
    if properties.get("charset") == "unset":  # binary data, by .editorconfig's own say
        return []
    text = path.read_text(encoding="utf-8")  # charset = utf-8, or this raises
    if not text:
        return []
    problems = []
    if "\r" in text:
        problems.append("CR line ending")
    if properties.get("insert_final_newline") == "true" and not text.endswith("\n"):
        problems.append("no final newline")
    for number, line in enumerate(text.split("\n"), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if properties.get("trim_trailing_whitespace") == "true" and line != line.rstrip():
            problems.append(f"line {number}: trailing whitespace")
        if properties.get("indent_style") == "space" and "\t" in indent:
            problems.append(f"line {number}: tab indent")
        if properties.get("indent_style") == "tab" and indent.startswith(" "):
            problems.append(f"line {number}: space indent")
    return problems


def test_every_generated_file_keeps_to_editorconfig(cookies: Any) -> None:
    """On a bake of its own: other tests leave caches and bytecode in baked_default."""
    result = cookies.bake()
    assert result.exception is None, repr(result.exception)
    service = Path(result.project_path)
    files = sorted(path for path in service.rglob("*") if path.is_file())
    assert service / "Makefile" in files
    problems = {
        path.relative_to(service).as_posix(): found
        for path in files
        if (found := editorconfig_problems(path))
    }
    assert problems == {}


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("Makefile", "all:\n    true\n", "line 2: space indent"),
        ("app.py", "x = 1  \n", "line 1: trailing whitespace"),
        ("app.py", "x = 1", "no final newline"),
        ("compose.yaml", "a:\n\tb: 1\n", "line 2: tab indent"),
    ],
)
def test_the_editorconfig_check_sees_each_breach(
    baked_default: Path, tmp_path: Path, name: str, text: str, problem: str
) -> None:
    shutil.copy(baked_default / ".editorconfig", tmp_path / ".editorconfig")
    (tmp_path / name).write_text(text, encoding="utf-8")
    assert problem in editorconfig_problems(tmp_path / name)
