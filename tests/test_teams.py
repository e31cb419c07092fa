"""Acceptance tests of team profiles: bake the exported template with pytest-cookies and check
that a team's default answers, extra files and steps arrive, and that a failing team step stops
generation with one line and leaves nothing behind.

The profile used is a copy of the built-in ``teams/example`` kept outside the template, the way
a team would keep it in its own repository. Its steps keep a registry of services in the file
``$EXAMPLE_TEAM_REGISTRY``; the hook subprocesses inherit the environment set here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import conftest
import pytest
from cookiecutter.exceptions import FailedHookException

TEAM_ENV = "ASYNC_FLASK_SERVICE_TEAM"
GIT = shutil.which("git") or "git"


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's real example-team registry is never touched (conftest.py already
    hides their team choice, cookiecutter config and git identity)."""
    monkeypatch.setenv("EXAMPLE_TEAM_REGISTRY", str(tmp_path / "registry.jsonl"))


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return tmp_path / "registry.jsonl"


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    """The example team's profile, copied out of the exported template."""
    path = tmp_path / "team-profile"
    shutil.copytree(conftest.TEMPLATE / "teams" / "example", path)
    return path


def git(project: Path, *args: str) -> str:
    result = subprocess.run([GIT, *args], cwd=project, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def bake_ok(cookies: Any, **extra_context: str) -> Path:
    result = cookies.bake(extra_context=extra_context)
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 0
    assert result.project_path is not None
    project = Path(result.project_path)
    assert not (project / ".template-hooks").exists(), "the hooks' marker is removed"
    return project


def author(project: Path) -> dict[str, str]:
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    authors: list[dict[str, str]] = tomllib.loads(text)["project"]["authors"]
    return authors[0]


def registered(registry: Path) -> list[dict[str, str]]:
    if not registry.exists():
        return []
    lines = registry.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def the_one_error(capfd: pytest.CaptureFixture[str]) -> str:
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    return errors[0]


def assert_no_project(result: Any, tmp_path: Path) -> None:
    """The bake failed in a hook and cookiecutter removed the half-made project."""
    assert result.exit_code != 0
    assert isinstance(result.exception, FailedHookException)
    assert result.project_path is None
    output_dirs = list((tmp_path / "cookies").iterdir())
    assert output_dirs
    for output_dir in output_dirs:
        assert list(output_dir.iterdir()) == []


def test_a_team_profile_outside_the_template(
    cookies: Any, monkeypatch: pytest.MonkeyPatch, profile: Path, registry: Path
) -> None:
    """Chosen by $ASYNC_FLASK_SERVICE_TEAM: defaults, files and steps all apply."""
    monkeypatch.setenv(TEAM_ENV, str(profile))

    project = bake_ok(cookies)

    # [defaults]: the answers cookiecutter offered were the team's.
    assert author(project) == {"name": "Example Team", "email": "example-team@example.com"}
    # [[files]], rendered with the answers.
    codeowners = (project / "CODEOWNERS").read_text(encoding="utf-8")
    assert "# Owners of My Service;" in codeowners
    assert "* @example-org/my-service-maintainers\n" in codeowners
    pr_template = project / ".github" / "pull_request_template.md"
    assert pr_template.read_text(encoding="utf-8").startswith("## What changes in My Service\n")
    # [[steps]]: the post step registered the service.
    assert registered(registry) == [{"name": "my-service", "package": "my_service"}]
    # git_init defaults to true for this team: one commit by the team, holding everything.
    assert (project / ".git").is_dir()
    log = git(project, "log", "--format=%an <%ae>")
    assert log.splitlines() == ["Example Team <example-team@example.com>"]
    assert git(project, "status", "--porcelain", "--ignored") == "!! .env"
    tracked = git(project, "ls-files").splitlines()
    assert {"CODEOWNERS", ".github/pull_request_template.md", "pyproject.toml"} <= set(tracked)


def test_a_team_chosen_as_an_answer_gets_defaults_files_and_steps(
    cookies: Any, profile: Path, registry: Path
) -> None:
    """``--extra-context team=…``: the later questions' defaults come from the profile."""
    project = bake_ok(cookies, team=str(profile))

    assert author(project) == {"name": "Example Team", "email": "example-team@example.com"}
    assert (project / ".git").is_dir(), "the team's git_init default applies"
    assert "@example-org/my-service-maintainers" in (project / "CODEOWNERS").read_text("utf-8")
    assert (project / ".github" / "pull_request_template.md").is_file()
    assert registered(registry) == [{"name": "my-service", "package": "my_service"}]


def test_a_built_in_team_by_name(cookies: Any, registry: Path) -> None:
    project = bake_ok(cookies, team="example", project_name="Billing")
    assert "@example-org/billing-maintainers" in (project / "CODEOWNERS").read_text("utf-8")
    assert registered(registry) == [{"name": "billing", "package": "billing"}]


def test_a_failing_team_step_stops_generation(
    cookies: Any,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    profile: Path,
    registry: Path,
) -> None:
    registry.write_text('{"name": "my-service", "package": "taken"}\n', encoding="utf-8")
    monkeypatch.setenv(TEAM_ENV, str(profile))

    result = cookies.bake()

    assert_no_project(result, tmp_path)
    error = the_one_error(capfd)
    assert error == (
        "error: step 'team team-profile: refuse_taken_name' failed: "
        f"a service named 'my-service' is already registered in {registry}"
    )
    assert registered(registry) == [{"name": "my-service", "package": "taken"}]


def test_a_team_step_raising_anything_stops_generation(
    cookies: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    boom = tmp_path / "boom-team"
    boom.mkdir()
    (boom / "team.toml").write_text('[[steps]]\nrun = "explode"\nwhen = "post"\n', encoding="utf-8")
    (boom / "steps.py").write_text(
        'def explode(ctx):\n    raise RuntimeError("boom")\n', encoding="utf-8"
    )

    result = cookies.bake(extra_context={"team": str(boom)})

    assert_no_project(result, tmp_path)
    assert (
        the_one_error(capfd) == "error: step 'team boom-team: explode' failed: RuntimeError('boom')"
    )


def test_an_unknown_team_from_the_environment_stops_before_the_prompts(
    cookies: Any,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(TEAM_ENV, str(tmp_path / "no-such-profile"))

    result = cookies.bake()

    assert_no_project(result, tmp_path)
    error = the_one_error(capfd)
    assert error.startswith(f"error: unknown team '{tmp_path / 'no-such-profile'}': no ")
    assert error.endswith("; built-in teams: default, example")


def test_a_team_from_the_cookiecutter_config(tmp_path: Path, profile: Path) -> None:
    """``default_context: {team: …}`` in the user's config, read by cookiecutter itself."""
    config = tmp_path / "cookiecutterrc"
    config.write_text(f"default_context:\n  team: '{profile}'\n", encoding="utf-8")
    out = tmp_path / "out"
    command = [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", "-o", str(out)]
    command += ["--config-file", str(config), str(conftest.TEMPLATE)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr

    project = out / "my-service"
    assert author(project)["name"] == "Example Team"
    assert (project / "CODEOWNERS").is_file()


def test_the_default_team_adds_nothing(cookies: Any, registry: Path) -> None:
    project = bake_ok(cookies)

    assert author(project) == {"name": "Your Name", "email": "you@example.com"}
    assert not (project / "CODEOWNERS").exists()
    assert not (project / ".github" / "pull_request_template.md").exists()
    assert not (project / ".git").exists()
    assert (project / ".env").is_file()
    assert not registry.exists()
