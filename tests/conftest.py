"""Shared fixtures and helpers for the template's own tests.

What is here:

* ``slow`` marker: the exhaustive matrices (every answer variant baked and
  checked). Everything runs by default, CI included; for a quick edit loop
  deselect them with ``scripts/test -m "not slow"``.
* ``REPO_ROOT``: the template repository (the folder holding cookiecutter.json).
* ``baked_default`` (session fixture): the template baked once with all
  default answers; returns the generated project's ``Path``. Bake it yourself
  (``cookies.bake``) when a test needs other answers or mutates the files.
* ``run_in_service(path, *args)``: run ``python *args`` in a baked project,
  the way its own tooling would, e.g.
  ``run_in_service(baked_default, "-m", "pytest", "-q")``.
  Import it with ``from conftest import run_in_service``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The exported template every bake uses; set in pytest_configure.
TEMPLATE = REPO_ROOT


def export_template() -> Path:
    """The template as it would be published (``scripts/export-template``), in a temporary
    folder: a file that git ignores, or that nobody added, fails the tests as it would fail a
    user cloning the template."""
    dest = Path(tempfile.mkdtemp(prefix="template-export-")) / "async-flask-service"
    subprocess.run([str(REPO_ROOT / "scripts" / "export-template"), str(dest)], check=True)
    return dest


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Point pytest-cookies (and ``baked_default``) at an export of this repository, so the
    tests bake what would be published and work from any directory."""
    global TEMPLATE
    TEMPLATE = export_template()
    config.option.template = str(TEMPLATE)
    # Bakes must not pick up the developer's own team choice, cookiecutter config or git
    # identity (cookiecutter.json's team default and the git_init step read them).
    os.environ.pop("ASYNC_FLASK_SERVICE_TEAM", None)
    empty_config = TEMPLATE.parent / "cookiecutterrc"
    empty_config.write_text("default_context: {}\n", encoding="utf-8")
    os.environ["COOKIECUTTER_CONFIG"] = str(empty_config)
    for variable in ("AUTHOR", "COMMITTER"):
        os.environ.pop(f"GIT_{variable}_NAME", None)
        os.environ.pop(f"GIT_{variable}_EMAIL", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(TEMPLATE.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def baked_default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template baked once per session with every default answer.

    Treat it as read-only: other tests share it. The user's cookiecutter
    config and replay directory are not used (``default_config=True``).
    """
    output_dir = tmp_path_factory.mktemp("baked-default")
    project = cookiecutter(
        str(TEMPLATE),
        no_input=True,
        output_dir=str(output_dir),
        default_config=True,
    )
    return Path(project)


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in ``cwd``, output captured as text; the caller judges the result."""
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a test identity; it must succeed. Its stdout, stripped."""
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    result = run("git", *identity, *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def run_in_service(
    path: Path,
    *args: str,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``<this venv's python> *args`` inside the baked project at ``path``.

    The baked package is not installed, so ``PYTHONPATH`` is set to
    ``<path>/src``; the venv's ``bin`` goes first on ``PATH`` so tools it
    spawns come from the same venv. Output is captured as text and nothing is
    asserted: the caller decides what a failure means and can print
    ``result.stdout``/``result.stderr``. ``env`` adds or overrides variables.
    """
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(Path(path) / "src")
    full_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), full_env.get("PATH", "")])
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input,
    )
