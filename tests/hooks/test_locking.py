"""hooks/locking.py and the ``lock dependencies`` step: ``uv lock`` at generation time, and one
warning line, never a failed generation, when uv or the package index is missing.

The lock of a real service (every dependency from the index) is checked on the default bake by
tests/test_packaging.py; here the projects have nothing to fetch, or uv is told it is offline.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from .helpers import MINIMAL_PYPROJECT, context, good_answers, locking, steps

WITH_FLASK = MINIMAL_PYPROJECT.replace("dependencies = []", 'dependencies = ["flask>=3"]')


def test_the_step_writes_uv_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(MINIMAL_PYPROJECT, encoding="utf-8")
    steps.lock_dependencies(context(tmp_path))
    lock = tomllib.loads((tmp_path / "uv.lock").read_text(encoding="utf-8"))
    assert [package["name"] for package in lock["package"]] == ["x"]
    assert capsys.readouterr().err == ""


def test_the_uv_beside_the_hooks_python_comes_first() -> None:
    """The template's test extra installs uv, as a user's ``pip install cookiecutter uv`` would."""
    assert locking.uv_command() == [sys.executable, "-m", "uv"]


def test_without_uv_generation_goes_on_with_one_warning(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fresh_generation: None,
) -> None:
    (tmp_path / "pyproject.toml").write_text(MINIMAL_PYPROJECT, encoding="utf-8")
    monkeypatch.setattr(locking, "uv_command", lambda: None)

    assert steps.run("post", good_answers(), tmp_path) == 0

    assert capsys.readouterr().err == (
        "warning: uv.lock not written: uv is not installed (https://docs.astral.sh/uv/); "
        "run `make lock` later\n"
    )
    assert not (tmp_path / "uv.lock").exists()
    assert (tmp_path / ".env").is_file(), "the steps after it still ran"


def test_offline_the_warning_gives_uvs_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv told it is offline, with an empty cache, cannot resolve Flask: the step says so."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(WITH_FLASK, encoding="utf-8")
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-cache"))

    steps.lock_dependencies(context(project))

    err = capsys.readouterr().err
    assert err.startswith(
        "warning: uv.lock not written: uv lock: No solution found when resolving dependencies: "
        "Because flask was not found in the cache"
    )
    assert err.endswith("; run `make lock` later\n")
    assert err.count("\n") == 1
    assert not (project / "uv.lock").exists()


def test_without_a_fitting_python_uv_downloads_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No interpreter meets requires-python: the step says so at once instead of having uv
    fetch a Python during generation; in full, in a narrow terminal too (uv wraps to it)."""
    monkeypatch.setenv("COLUMNS", "40")
    unreachable = MINIMAL_PYPROJECT.replace(
        "[project]\n", '[project]\nrequires-python = ">=3.99"\n'
    )
    (tmp_path / "pyproject.toml").write_text(unreachable, encoding="utf-8")
    steps.lock_dependencies(context(tmp_path))
    assert capsys.readouterr().err == (
        "warning: uv.lock not written: uv lock: No interpreter found for Python >=3.99 in "
        "managed installations or search path; run `make lock` later\n"
    )


def test_nothing_to_lock_without_pyproject(tmp_path: Path) -> None:
    assert locking.lock(tmp_path) is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (
            "Using CPython 3.11.7\nerror: Request failed after 3 retries\n"
            "  cause: Failed to fetch: https://pypi.org/simple/flask/\n  cause: dns error\n",
            "Request failed after 3 retries: Failed to fetch: https://pypi.org/simple/flask/",
        ),
        ("error: No `project` table found\n", "No `project` table found"),
        ("something odd\nlast words\n", "last words"),
        ("", "no output"),
    ],
    ids=["error-and-cause", "error-alone", "no-error-line", "empty"],
)
def test_first_error_keeps_uvs_reason_on_one_line(output: str, reason: str) -> None:
    assert locking.first_error(output) == reason
