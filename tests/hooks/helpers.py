"""Shared helpers for the hook unit tests (tests/hooks/test_*.py).

The hook modules import each other by name (the stubs put ``hooks/`` on ``sys.path``), so
this module does the same and re-exports them: ``answer_checks`` (hooks/answers.py),
``steps`` and ``teams``. ``local_extensions`` is loaded by file path. Nothing here bakes:
tests/test_bake.py and tests/test_teams.py do.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from cookiecutter.utils import create_env_with_context

HOOKS_DIR = Path(__file__).resolve().parents[2] / "hooks"
REPO_ROOT = HOOKS_DIR.parent
sys.path.insert(0, str(HOOKS_DIR))

import answers as answer_checks  # noqa: E402
import locking  # noqa: E402
import steps  # noqa: E402
import teams  # noqa: E402

__all__ = [
    "HOOKS",
    "HOOKS_DIR",
    "MINIMAL_PYPROJECT",
    "REPO_ROOT",
    "answer_checks",
    "context",
    "cookiecutter_json",
    "git",
    "good_answers",
    "load_by_path",
    "local_extensions",
    "locking",
    "make_profile",
    "render_hook",
    "steps",
    "teams",
]


def load_by_path(path: Path, name: str) -> ModuleType:
    """Import a file under a private module name (registered, as dataclasses require)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cookiecutter_json() -> dict[str, Any]:
    config: dict[str, Any] = json.loads((REPO_ROOT / "cookiecutter.json").read_text("utf-8"))
    return config


#: A project uv can lock without the package index: it has no dependencies.
MINIMAL_PYPROJECT = '[project]\nname = "x"\nversion = "0"\ndependencies = []\n'

local_extensions = load_by_path(REPO_ROOT / "local_extensions.py", "_local_extensions")


def good_answers(**overrides: Any) -> dict[str, Any]:
    """The answers cookiecutter renders for the defaults, plus overrides."""
    answers: dict[str, Any] = {
        "project_name": "My Service",
        "project_slug": "my-service",
        "package_name": "my_service",
        "description": "An async Flask microservice served by Hypercorn.",
        "author_name": "Your Name",
        "author_email": "you@example.com",
        "python_version": "3.11",
        "user_store": "sqlite",
        "team": "default",
        "git_init": "no",
        "__env_prefix": "MY_SERVICE_",
    }
    answers.update(overrides)
    return answers


def context(project: Path, *, updating: bool = False, **overrides: Any) -> steps.StepContext:
    """A StepContext for ``project`` with the good answers plus overrides."""
    answers = good_answers(**overrides)
    return steps.StepContext(answers, project, teams.load(answers["team"]), updating)


def make_profile(
    root: Path,
    toml: str,
    *,
    steps_py: str | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Write a team profile folder: team.toml, optionally steps.py and files."""
    root.mkdir(parents=True)
    (root / "team.toml").write_text(toml, encoding="utf-8")
    if steps_py is not None:
        (root / "steps.py").write_text(steps_py, encoding="utf-8")
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


GIT = shutil.which("git") or "git"


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stripped stdout, failing loudly."""
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    result = subprocess.run(
        [GIT, *identity, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


HOOKS = ["pre_gen_project", "post_gen_project"]


def render_hook(hook: str, answers: dict[str, Any]) -> str:
    """Render a hook the way cookiecutter does, with this template's extensions."""
    context = {"cookiecutter": {**answers, "_extensions": cookiecutter_json()["_extensions"]}}
    source = (HOOKS_DIR / f"{hook}.py").read_text(encoding="utf-8")
    sys.path.append(str(REPO_ROOT))  # cookiecutter puts the template folder on sys.path
    return str(create_env_with_context(context).from_string(source).render(**context))
