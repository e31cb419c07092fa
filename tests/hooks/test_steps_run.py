"""hooks/steps.py: the plan of steps per team, running a phase, stopping at the first
failure in one line, and which steps run under ``cruft update``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    HOOKS_DIR,
    MINIMAL_PYPROJECT,
    REPO_ROOT,
    good_answers,
    make_profile,
    steps,
    teams,
)


def names_and_flags(planned: list[steps.Step]) -> list[tuple[str, bool]]:
    return [(step.name, step.on_update) for step in planned]


def test_plan_of_the_default_team() -> None:
    default = teams.load("default")
    assert names_and_flags(steps.plan("pre", default)) == [("validate answers", True)]
    assert names_and_flags(steps.plan("post", default)) == [
        ("prune files", True),
        ("write secret", False),
        ("render team files", True),
        ("lock dependencies", False),
        ("record template", False),
        ("git init", False),
    ]


def test_plan_puts_team_steps_between_the_built_ins() -> None:
    example = teams.load("example")
    assert names_and_flags(steps.plan("pre", example)) == [
        ("validate answers", True),
        ("team example: refuse_taken_name", False),
    ]
    assert names_and_flags(steps.plan("post", example)) == [
        ("prune files", True),
        ("write secret", False),
        ("render team files", True),
        ("team example: register_service", False),
        ("lock dependencies", False),
        ("record template", False),
        ("git init", False),
    ]


# Each step appends its name (and whether it ran under an update) to <project>/ran.txt.
RECORDING_STEPS = """\
from steps import StepFailed


def record(ctx, name):
    with (ctx.project / "ran.txt").open("a", encoding="utf-8") as handle:
        handle.write(f"{name} updating={ctx.updating}\\n")


def first(ctx):
    record(ctx, "first")


def refuse(ctx):
    record(ctx, "refuse")
    raise StepFailed("the name is taken")


def explode(ctx):
    record(ctx, "explode")
    raise RuntimeError("boom")


def always(ctx):
    record(ctx, "always")


def fresh_only(ctx):
    record(ctx, "fresh_only")
"""


def recording_team(root: Path, *step_lines: str) -> str:
    """A profile whose [[steps]] are the given (run, when, on_update) TOML snippets."""
    toml = "".join(f"[[steps]]\n{line}\n" for line in step_lines)
    return str(make_profile(root, toml, steps_py=RECORDING_STEPS))


def ran(project: Path) -> list[str]:
    path = project / "ran.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.mark.parametrize(
    ("failing", "reason"),
    [("refuse", "the name is taken"), ("explode", "RuntimeError('boom')")],
    ids=["step-failed", "any-exception"],
)
@pytest.mark.parametrize("phase", ["pre", "post"])
def test_run_stops_at_the_first_failure_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fresh_generation: None,
    phase: str,
    failing: str,
    reason: str,
) -> None:
    team = recording_team(
        tmp_path / "recorder",
        f'run = "first"\nwhen = "{phase}"',
        f'run = "{failing}"\nwhen = "{phase}"',
        f'run = "always"\nwhen = "{phase}"',
    )
    project = tmp_path / "project"
    project.mkdir()

    assert steps.run(phase, good_answers(team=team), project) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: step 'team recorder: {failing}' failed: {reason}\n"
    assert ran(project) == ["first updating=False", f"{failing} updating=False"]
    if phase == "post":  # the built-in steps after the team's did not run either
        assert not (project / ".cruft.json").exists()
        assert not (project / ".git").exists()


def test_run_returns_0_when_every_step_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fresh_generation: None
) -> None:
    team = recording_team(
        tmp_path / "recorder", 'run = "first"\nwhen = "pre"', 'run = "always"\nwhen = "post"'
    )
    project = tmp_path / "project"
    project.mkdir()
    assert steps.run("pre", good_answers(team=team), project) == 0
    assert steps.run("post", good_answers(team=team), project) == 0
    assert ran(project) == ["first updating=False", "always updating=False"]
    assert (project / ".env").is_file()
    assert capsys.readouterr().err == ""


def test_run_reports_an_unknown_team_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fresh_generation: None
) -> None:
    for phase in ("pre", "post"):
        assert steps.run(phase, good_answers(team="nope"), tmp_path) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: unknown team 'nope': no ")
        assert err.endswith("; built-in teams: default, example\n")
        assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("steps_py", "message"),
    [
        ("x = 1\n", "error: team 'broken': steps.py has no function 'go'\n"),
        ("raise RuntimeError('at import')\n", "error: team 'broken': cannot import "),
        ("def go(ctx:\n", "error: team 'broken': cannot import "),
    ],
    ids=["no-function", "raises-at-import", "syntax-error"],
)
def test_run_reports_a_broken_steps_module_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fresh_generation: None,
    steps_py: str,
    message: str,
) -> None:
    team = make_profile(tmp_path / "broken", '[[steps]]\nrun = "go"\n', steps_py=steps_py)
    project = tmp_path / "project"
    project.mkdir()
    assert steps.run("post", good_answers(team=str(team)), project) == 1
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert list(project.iterdir()) == []


def test_under_cruft_update_only_steps_with_on_update_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(steps, "under_cruft_update", lambda: True)
    team = recording_team(
        tmp_path / "recorder",
        'run = "always"\nwhen = "pre"\non_update = true',
        'run = "fresh_only"\nwhen = "pre"\non_update = false',
        'run = "always"\nwhen = "post"\non_update = true',
        'run = "fresh_only"\nwhen = "post"\non_update = false',
    )
    shutil.copytree(REPO_ROOT / "teams" / "example" / "files", Path(team) / "files")
    with (Path(team) / "team.toml").open("a", encoding="utf-8") as handle:
        handle.write('[[files]]\nsource = "files/CODEOWNERS"\ntarget = "CODEOWNERS"\n')
    project = tmp_path / "project"
    project.mkdir()
    # Something to lock, with nothing to fetch: were the lock step to run, uv.lock would appear.
    (project / "pyproject.toml").write_text(MINIMAL_PYPROJECT, encoding="utf-8")
    answers = good_answers(team=team, git_init="yes", _repo_dir=str(REPO_ROOT), _template="x")

    assert steps.run("pre", answers, project) == 0
    assert steps.run("post", answers, project) == 0

    assert ran(project) == ["always updating=True", "always updating=True"]
    assert (project / "CODEOWNERS").is_file(), "render team files runs on update"
    assert not (project / ".env").exists(), "write secret does not"
    assert not (project / "uv.lock").exists(), "lock dependencies does not"
    assert not (project / ".cruft.json").exists(), "record template does not"
    assert not (project / ".git").exists(), "git init does not"
    assert capsys.readouterr().err == ""


def test_answers_are_still_checked_under_cruft_update(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(steps, "under_cruft_update", lambda: True)
    assert steps.run("pre", good_answers(package_name="flask"), tmp_path) == 1
    assert capsys.readouterr().err.startswith("error: step 'validate answers' failed: ")


FAKE_CRUFT = """\
import subprocess
import sys

probe = "import sys; sys.path.insert(0, sys.argv[1]); import steps"
probe += "; print(steps.under_cruft_update())"
sys.exit(subprocess.run([sys.executable, "-c", probe, sys.argv[-1]]).returncode)
"""


@pytest.mark.skipif(shutil.which("ps") is None, reason="under_cruft_update asks ps")
@pytest.mark.parametrize(
    ("command", "expected"),
    [("update", "True"), ("diff", "True"), ("create", "False"), ("check", "False")],
)
def test_under_cruft_update_recognises_its_parent(
    tmp_path: Path, command: str, expected: str
) -> None:
    """A hook whose parent process is ``cruft update`` (or ``diff``) knows it; the fake cruft
    here is a Python script named ``cruft`` that runs the check in a child process. A narrow
    $COLUMNS must not matter: procps' ps would cut the command line there, before "update"."""
    cruft = tmp_path / "cruft"
    cruft.write_text(FAKE_CRUFT, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(cruft), command, "--skip-apply-ask", str(HOOKS_DIR)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "40"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_fresh_generation_is_not_an_update() -> None:
    assert steps.under_cruft_update() is False  # pytest's parent is no cruft


def test_without_ps_it_is_a_fresh_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_ps(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError("ps")

    monkeypatch.setattr(subprocess, "run", no_ps)
    assert steps.under_cruft_update() is False
