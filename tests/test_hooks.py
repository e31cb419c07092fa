"""Unit tests for the hooks: answers.py, teams.py, steps.py, local_extensions.py and the stubs.

The hook modules import each other by name (the stubs put ``hooks/`` on ``sys.path``), so these
tests do the same. The stubs (pre_gen_project.py, post_gen_project.py) are loaded by file path;
their only Jinja is the ANSWERS_JSON literal, which stays unrendered here. Nothing here bakes:
tests/test_bake.py and tests/test_teams.py do.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cookiecutter.utils import create_env_with_context

HOOKS_DIR = Path(__file__).resolve().parents[1] / "hooks"
REPO_ROOT = HOOKS_DIR.parent
sys.path.insert(0, str(HOOKS_DIR))

import answers as answer_checks  # noqa: E402
import steps  # noqa: E402
import teams  # noqa: E402


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


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git never finds a repository above tmp_path, and the hooks' ``sys.path`` insertions are
    undone (conftest.py hides the developer's team, cookiecutter config and git identity)."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def fresh_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run steps as in a fresh generation, without asking ``ps`` about the parent process."""
    monkeypatch.setattr(steps, "under_cruft_update", lambda: False)


# --- the Jinja contract of the stubs -----------------------------------------------------------


HOOKS = ["pre_gen_project", "post_gen_project"]


def render_hook(hook: str, answers: dict[str, Any]) -> str:
    """Render a hook the way cookiecutter does, with this template's extensions."""
    context = {"cookiecutter": {**answers, "_extensions": cookiecutter_json()["_extensions"]}}
    source = (HOOKS_DIR / f"{hook}.py").read_text(encoding="utf-8")
    sys.path.append(str(REPO_ROOT))  # cookiecutter puts the template folder on sys.path
    return str(create_env_with_context(context).from_string(source).render(**context))


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_jinja_stays_inside_its_two_string_literals(hook: str) -> None:
    source = (HOOKS_DIR / f"{hook}.py").read_text(encoding="utf-8")
    assert source.count("{{") == 2
    assert source.count("}}") == 2
    assert "{%" not in source
    assert "{#" not in source
    assert "ANSWERS_JSON = r'''{{ cookiecutter | tojson }}'''" in source
    assert "HOOKS_DIR = r'''{{ template_hooks_dir }}'''" in source


@pytest.mark.parametrize("hook", HOOKS)
def test_answers_literal_survives_hostile_values(hook: str) -> None:
    """Render the hook as cookiecutter does and read the answers and hooks folder back."""
    hostile = "it's ''' \"\"\" \\ \\' <b>&</b> {{ x }} \u00e9\n"
    answers = good_answers(project_name=hostile, description=hostile)
    namespace: dict[str, Any] = {"__name__": "rendered_hook"}
    exec(compile(render_hook(hook, answers), "<rendered hook>", "exec"), namespace)  # noqa: S102
    assert json.loads(namespace["ANSWERS_JSON"]) == {
        **answers,
        "_extensions": cookiecutter_json()["_extensions"],
    }
    assert Path(namespace["HOOKS_DIR"]) == HOOKS_DIR


# --- answers.py --------------------------------------------------------------------------------


def test_defaults_are_valid() -> None:
    assert answer_checks.first_error(good_answers()) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"project_slug": "billing-service-2", "package_name": "billing_service_2"},
        {"project_slug": "3d-printer-api", "package_name": "svc_3d_printer_api"},
        {"project_slug": "cafe-unicode-senor", "package_name": "cafe_unicode_senor"},
        {"package_name": "_private"},
        {"python_version": "3.12"},
        {"python_version": "3.13"},
        {"python_version": "3.100"},
        {"author_email": "team+svc@sub.example.org"},
        {"description": ""},
        {"team": "example"},
        {"team": str(REPO_ROOT / "teams" / "example")},
    ],
)
def test_valid_answers_pass(capsys: pytest.CaptureFixture[str], overrides: dict[str, Any]) -> None:
    assert answer_checks.first_error(good_answers(**overrides)) is None
    steps.validate_answers(context(Path("unused"), **overrides))
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"project_slug": ""}, "project_slug is empty"),
        ({"project_slug": "My-Service"}, "project_slug 'My-Service' must be lowercase"),
        ({"project_slug": "my--service"}, "project_slug 'my--service' must be"),
        ({"project_slug": "-service"}, "project_slug '-service' must be"),
        ({"project_slug": "service-"}, "project_slug 'service-' must be"),
        ({"project_slug": "my_service"}, "project_slug 'my_service' must be"),
        ({"project_slug": "my-service\n"}, "project_slug 'my-service\\n' must be"),
        ({"project_slug": "caf\u00e9"}, "must be lowercase letters"),
        ({"package_name": ""}, "package_name '' must be a lowercase ASCII identifier"),
        ({"package_name": "1abc"}, "package_name '1abc' must be a lowercase ASCII identifier"),
        ({"package_name": "my-service"}, "must be a lowercase ASCII identifier"),
        ({"package_name": "MyService"}, "must be a lowercase ASCII identifier"),
        ({"package_name": "my_service\n"}, "must be a lowercase ASCII identifier"),
        ({"package_name": "caf\u00e9"}, "must be a lowercase ASCII identifier"),
        ({"package_name": "class"}, "package_name 'class' is a Python keyword"),
        ({"package_name": "async"}, "package_name 'async' is a Python keyword"),
        ({"package_name": "match"}, "package_name 'match' is a Python keyword"),
        ({"package_name": "type"}, "package_name 'type' is a Python keyword"),
        ({"package_name": "_"}, "package_name '_' is a Python keyword"),
        ({"package_name": "json"}, "package_name 'json' shadows the standard library module"),
        ({"package_name": "asyncio"}, "shadows the standard library module 'asyncio'"),
        (
            {"package_name": "flask"},
            "package_name 'flask' shadows the dependency 'flask'; choose another name",
        ),
        ({"package_name": "sqlalchemy"}, "shadows the dependency 'sqlalchemy'"),
        ({"package_name": "tests"}, "shadows the dependency 'tests'"),
        ({"package_name": "src"}, "shadows the dependency 'src'"),
        ({"python_version": "3.9"}, "python_version '3.9' must be 3.11 or newer"),
        ({"python_version": "3.10"}, "python_version '3.10' must be 3.11 or newer"),
        ({"python_version": "3.11.4"}, "python_version '3.11.4' must be"),
        ({"python_version": "3"}, "python_version '3' must be"),
        ({"python_version": "4.0"}, "python_version '4.0' must be"),
        ({"python_version": "3.012"}, "python_version '3.012' must be"),
        ({"python_version": " 3.12"}, "python_version ' 3.12' must be"),
        ({"python_version": "3.12\n"}, "python_version '3.12\\n' must be"),
        ({"author_email": "you.example.com"}, "author_email 'you.example.com' does not look like"),
        ({"author_email": "a@b@c"}, "does not look like an e-mail address"),
        ({"author_email": "you @example.com"}, "does not look like an e-mail address"),
        ({"author_email": "you@"}, "does not look like an e-mail address"),
        ({"author_email": ""}, "does not look like an e-mail address"),
        ({"author_email": "you@example.com\n"}, "does not look like an e-mail address"),
        ({"user_store": "postgres"}, "user_store 'postgres' is not one of sqlite"),
        ({"user_store": "http"}, "user_store 'http' is not one of sqlite"),
        ({"description": "two\nlines"}, "description must be a single line"),
        ({"description": "carriage\rreturn"}, "description must be a single line"),
    ],
)
def test_invalid_answers_fail_the_pre_phase_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fresh_generation: None,
    overrides: dict[str, Any],
    message: str,
) -> None:
    reason = answer_checks.first_error(good_answers(**overrides))
    assert reason is not None
    assert message in reason
    assert "\n" not in reason

    assert steps.run("pre", good_answers(**overrides), tmp_path) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: step 'validate answers' failed: {reason}\n"


def test_only_the_first_failure_is_reported() -> None:
    reason = answer_checks.first_error(
        good_answers(package_name="flask", python_version="2.7", team="nope")
    )
    assert reason == "package_name 'flask' shadows the dependency 'flask'; choose another name"


def test_unknown_team_is_an_answer_error() -> None:
    reason = answer_checks.first_error(good_answers(team="nope"))
    assert reason is not None
    assert reason.startswith("unknown team 'nope': no ")
    assert reason.endswith("; built-in teams: default, example")


def test_dependency_names_are_import_names() -> None:
    for name in answer_checks.DEPENDENCY_IMPORT_NAMES:
        assert answer_checks.PACKAGE_RE.fullmatch(name), name


def test_every_stdlib_module_is_rejected() -> None:
    for name in sorted(sys.stdlib_module_names):
        if not answer_checks.PACKAGE_RE.fullmatch(name):
            continue
        assert answer_checks.first_error(good_answers(package_name=name)) is not None, name


def test_user_stores_match_cookiecutter_json() -> None:
    """The check's list and the prompt's choices must not drift apart."""
    config = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    assert tuple(config["user_store"]) == answer_checks.USER_STORES


# --- teams.py ----------------------------------------------------------------------------------


def test_load_the_default_team() -> None:
    profile = teams.load("default")
    assert profile.name == "default"
    assert profile.root == teams.TEAMS_DIR / "default"
    assert profile.defaults == {}
    assert profile.files == ()
    assert profile.steps == ()


def test_load_the_example_team() -> None:
    profile = teams.load("example")
    assert profile.name == "example"
    assert profile.description
    assert profile.defaults == {
        "author_name": "Example Team",
        "author_email": "example-team@example.com",
        "git_init": True,
    }
    assert profile.files == (
        ("files/CODEOWNERS", "CODEOWNERS"),
        ("files/pull_request_template.md", ".github/pull_request_template.md"),
    )
    assert profile.steps == (
        teams.TeamStep("refuse_taken_name", "pre", on_update=False),
        teams.TeamStep("register_service", "post", on_update=False),
    )
    assert callable(profile.function("refuse_taken_name"))
    assert callable(profile.function("register_service"))


def test_built_in_teams_live_at_the_repository_root() -> None:
    assert teams.TEAMS_DIR == REPO_ROOT / "teams"


@pytest.mark.parametrize("team", ["nope", "Example", "/nowhere/team"])
def test_unknown_team_lists_the_built_in_teams(team: str) -> None:
    with pytest.raises(teams.ProfileError) as raised:
        teams.load(team)
    message = str(raised.value)
    assert message.startswith(f"unknown team {team!r}: no ")
    assert message.endswith("; built-in teams: default, example")
    assert "\n" not in message


def test_a_path_profile_is_loaded_from_anywhere(tmp_path: Path) -> None:
    root = make_profile(
        tmp_path / "elsewhere" / "platform",
        'description = "Platform"\n[defaults]\nauthor_name = "Platform"\n'
        '[[steps]]\nrun = "hello"\n',
        steps_py="def hello(ctx):\n    pass\n",
    )
    profile = teams.load(str(root))
    assert profile.name == "platform"
    assert profile.root == root
    assert profile.defaults == {"author_name": "Platform"}
    # ``when`` defaults to post, ``on_update`` to false.
    assert profile.steps == (teams.TeamStep("hello", "post", on_update=False),)


def test_a_home_path_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_profile(tmp_path / "team", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert teams.load("~/team").root == root


@pytest.mark.parametrize("team", ["./team", "team/", "../team", "..", "", "sub\\team"])
def test_a_relative_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, team: str
) -> None:
    """Hooks run in the new project's folder, so a relative path would mean something else."""
    make_profile(tmp_path / "team", "")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(teams.ProfileError) as raised:
        teams.load(team)
    assert str(raised.value) == f"team {team!r}: give a built-in team name or an absolute path"


def test_a_path_without_team_toml_is_unknown(tmp_path: Path) -> None:
    with pytest.raises(teams.ProfileError, match=r"^unknown team .* built-in teams: default"):
        teams.load(str(tmp_path))


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[files]]\nsource = "files/missing.txt"\ntarget = "missing.txt"\n',
            "file 'files/missing.txt' is missing from ",
        ),
        (
            '[[files]]\nsource = "files/x.txt"\ntarget = "../outside.txt"\n',
            "target '../outside.txt' must stay inside the project",
        ),
        (
            '[[files]]\nsource = "files/x.txt"\ntarget = "docs/../../outside.txt"\n',
            "target 'docs/../../outside.txt' must stay inside the project",
        ),
        (
            '[[files]]\nsource = "files/x.txt"\ntarget = "/etc/outside.txt"\n',
            "target '/etc/outside.txt' must stay inside the project",
        ),
        ('[[steps]]\nrun = "x"\nwhen = "later"\n', "step 'x' has when='later'"),
        ("[defaults\n", "cannot read "),
        ('[[files]]\nsource = "files/x.txt"\n', "each [[files]] needs source and target"),
        ('[[steps]]\nwhen = "pre"\n', "each [[steps]] needs run"),
        ('steps = "go"\n', "each [[steps]] needs run"),
        ("defaults = 1\n", "[defaults] must be a table"),
    ],
    ids=[
        "missing-file",
        "dotdot",
        "nested-dotdot",
        "absolute",
        "bad-when",
        "bad-toml",
        "no-target",
        "no-run",
        "steps-not-a-table",
        "defaults-not-a-table",
    ],
)
def test_a_broken_profile_is_a_one_line_profile_error(
    tmp_path: Path, toml: str, message: str
) -> None:
    root = make_profile(tmp_path / "broken", toml, files={"files/x.txt": "x\n"})
    with pytest.raises(teams.ProfileError) as raised:
        teams.load(str(root))
    assert str(raised.value).startswith(f"team {str(root)!r}: ")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_step_function_must_exist(tmp_path: Path) -> None:
    no_module = teams.load(str(make_profile(tmp_path / "a", '[[steps]]\nrun = "go"\n')))
    message = "team 'a' has no steps.py for step 'go'"
    with pytest.raises(teams.ProfileError, match=re.escape(message)):
        no_module.function("go")
    no_function = teams.load(
        str(make_profile(tmp_path / "b", '[[steps]]\nrun = "go"\n', steps_py="go = 1\n"))
    )
    message = "team 'b': steps.py has no function 'go'"
    with pytest.raises(teams.ProfileError, match=re.escape(message)):
        no_function.function("go")


def test_a_steps_module_that_cannot_import_is_a_profile_error(tmp_path: Path) -> None:
    root = make_profile(
        tmp_path / "c", '[[steps]]\nrun = "go"\n', steps_py="raise RuntimeError('at import')\n"
    )
    with pytest.raises(teams.ProfileError, match=r"^team 'c': cannot import .*at import"):
        teams.load(str(root)).function("go")


# --- steps.py: plan and run --------------------------------------------------------------------


def names_and_flags(planned: list[steps.Step]) -> list[tuple[str, bool]]:
    return [(step.name, step.on_update) for step in planned]


def test_plan_of_the_default_team() -> None:
    default = teams.load("default")
    assert names_and_flags(steps.plan("pre", default)) == [("validate answers", True)]
    assert names_and_flags(steps.plan("post", default)) == [
        ("prune files", True),
        ("write secret", False),
        ("render team files", True),
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
    answers = good_answers(team=team, git_init="yes", _repo_dir=str(REPO_ROOT), _template="x")

    assert steps.run("pre", answers, project) == 0
    assert steps.run("post", answers, project) == 0

    assert ran(project) == ["always updating=True", "always updating=True"]
    assert (project / "CODEOWNERS").is_file(), "render team files runs on update"
    assert not (project / ".env").exists(), "write secret does not"
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


# --- steps.py: write_secret --------------------------------------------------------------------


def read_env(path: Path) -> dict[str, str]:
    """Parse a KEY=VALUE file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_write_secret_writes_a_private_env_file(tmp_path: Path) -> None:
    steps.write_secret(context(tmp_path))

    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = read_env(env_file)
    assert set(values) == {"MY_SERVICE_ENV", "MY_SERVICE_SECRET_KEY"}
    assert values["MY_SERVICE_ENV"] == "development"
    assert len(values["MY_SERVICE_SECRET_KEY"]) >= 64


def test_write_secret_uses_the_env_prefix(tmp_path: Path) -> None:
    steps.write_secret(
        context(tmp_path, package_name="svc_3d_printer_api", __env_prefix="SVC_3D_API_")
    )
    assert set(read_env(tmp_path / ".env")) == {"SVC_3D_API_ENV", "SVC_3D_API_SECRET_KEY"}


def test_write_secret_differs_per_project(tmp_path: Path) -> None:
    secrets_seen = set()
    for name in ("one", "two"):
        project = tmp_path / name
        project.mkdir()
        steps.write_secret(context(project))
        secrets_seen.add(read_env(project / ".env")["MY_SERVICE_SECRET_KEY"])
    assert len(secrets_seen) == 2


def test_write_secret_never_overwrites_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / ".env"
    existing.write_text("MY_SERVICE_SECRET_KEY=keep-me\n", encoding="utf-8")
    existing.chmod(0o644)

    steps.write_secret(context(tmp_path))

    assert existing.read_text(encoding="utf-8") == "MY_SERVICE_SECRET_KEY=keep-me\n"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o644
    assert ".env already exists" in capsys.readouterr().err


# --- steps.py: prune ---------------------------------------------------------------------------


def make_store_files(root: Path, package: str) -> tuple[Path, Path]:
    """Lay out the files the PRUNE table knows about."""
    package_dir = root / "src" / package
    (package_dir / "migrations" / "versions").mkdir(parents=True)
    (package_dir / "migrations" / "versions" / "0001_users.py").write_text("", encoding="utf-8")
    sql_store = package_dir / "sql_store.py"
    sql_store.write_text("", encoding="utf-8")
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    return sql_store, package_dir / "migrations"


def test_prune_keeps_everything_for_sqlite(tmp_path: Path) -> None:
    sql_store, migrations = make_store_files(tmp_path, "my_service")
    steps.prune(context(tmp_path, user_store="sqlite"))
    assert sql_store.is_file()
    assert migrations.is_dir()


def test_prune_removes_sql_files_for_http_store(tmp_path: Path) -> None:
    sql_store, migrations = make_store_files(tmp_path, "billing")
    # "http" is not a valid answer yet, but the table already knows what it does not need.
    steps.prune(context(tmp_path, package_name="billing", user_store="http"))
    assert not sql_store.exists()
    assert not migrations.exists()
    assert (tmp_path / "src" / "billing" / "__init__.py").is_file()


def test_prune_skips_missing_paths(tmp_path: Path) -> None:
    steps.prune(context(tmp_path, user_store="http"))
    assert list(tmp_path.iterdir()) == []


def test_prune_removes_a_symlink_not_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.py").write_text("", encoding="utf-8")
    package_dir = tmp_path / "project" / "src" / "my_service"
    package_dir.mkdir(parents=True)
    (package_dir / "migrations").symlink_to(outside, target_is_directory=True)

    steps.prune(context(tmp_path / "project", user_store="http"))

    assert not (package_dir / "migrations").is_symlink()
    assert (outside / "keep.py").is_file()


def test_prune_table_is_driven_by_its_predicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new entry only needs a path and a predicate."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "pkg_notes.md").write_text("x", encoding="utf-8")
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    table: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
        ("docs/{package_name}_notes.md", lambda a: a["description"] == ""),
        ("keep.txt", lambda a: False),
    )
    monkeypatch.setattr(steps, "PRUNE", table)
    steps.prune(context(tmp_path, package_name="pkg", description=""))
    assert not (tmp_path / "docs" / "pkg_notes.md").exists()
    assert (tmp_path / "docs").is_dir()
    assert (tmp_path / "keep.txt").exists()


def test_prune_paths_exist_in_the_template() -> None:
    """Every PRUNE entry must name something the template ships; a renamed
    file would otherwise silently stop being pruned."""
    template = REPO_ROOT / "{{cookiecutter.project_slug}}"
    for pattern, _ in steps.PRUNE:
        path = template / pattern.format(package_name="{{cookiecutter.package_name}}")
        assert path.exists(), f"PRUNE entry {pattern!r} matches nothing in the template"


# --- steps.py: render_team_files ---------------------------------------------------------------


def test_render_team_files_renders_cookiecutter_answers(tmp_path: Path) -> None:
    team = make_profile(
        tmp_path / "renderer",
        '[[files]]\nsource = "files/owners.txt"\ntarget = "deep/er/OWNERS"\n'
        '[[files]]\nsource = "files/raw.txt"\ntarget = "raw.txt"\n',
        files={
            "files/owners.txt": "{{ cookiecutter.project_name }} is {{ cookiecutter.project_slug }}"
            " by {{ cookiecutter.author_name }}\n",
            "files/raw.txt": "<b>&</b> {% raw %}{{ kept }}{% endraw %}\n",
        },
    )
    project = tmp_path / "project"
    project.mkdir()

    steps.render_team_files(context(project, team=str(team), author_name="A <b>&</b>"))

    owners = (project / "deep" / "er" / "OWNERS").read_text(encoding="utf-8")
    assert owners == "My Service is my-service by A <b>&</b>\n"  # no HTML escaping
    assert (project / "raw.txt").read_text(encoding="utf-8") == "<b>&</b> {{ kept }}\n"


def test_render_team_files_of_the_example_team(tmp_path: Path) -> None:
    steps.render_team_files(context(tmp_path, team="example", project_slug="billing"))
    codeowners = (tmp_path / "CODEOWNERS").read_text(encoding="utf-8")
    assert "* @example-org/billing-maintainers\n" in codeowners
    template = (tmp_path / ".github" / "pull_request_template.md").read_text(encoding="utf-8")
    assert template.startswith("## What changes in My Service\n")


def test_an_undefined_variable_in_a_team_file_fails_its_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fresh_generation: None
) -> None:
    team = make_profile(
        tmp_path / "typo",
        '[[files]]\nsource = "files/x.txt"\ntarget = "x.txt"\n',
        files={"files/x.txt": "{{ cookiecutter.projcet_name }}\n"},
    )
    project = tmp_path / "project"
    project.mkdir()
    assert steps.run("post", good_answers(team=str(team)), project) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: step 'render team files' failed: UndefinedError(")
    assert "projcet_name" in err
    assert err.count("\n") == 1


# --- steps.py: record_template -----------------------------------------------------------------


def test_record_template_needs_a_repo_dir(tmp_path: Path) -> None:
    steps.record_template(context(tmp_path))
    assert not (tmp_path / ".cruft.json").exists()


def test_record_template_needs_a_git_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "template"
    template.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    steps.record_template(context(project, _repo_dir=str(template), _template=str(template)))
    assert not (project / ".cruft.json").exists()
    assert "not a git checkout" in capsys.readouterr().err


def test_record_template_writes_cruft_json_for_a_git_checkout(tmp_path: Path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    (template / "cookiecutter.json").write_text("{}", encoding="utf-8")
    git(template, "init", "--quiet")
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "--message", "template")
    head = git(template, "rev-parse", "HEAD")
    project = tmp_path / "project"
    project.mkdir()
    ctx = context(
        project,
        _repo_dir=str(template),
        _template="https://example.com/template.git",
        _output_dir=str(tmp_path),
        _checkout="main",
    )

    steps.record_template(ctx)

    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    expected = {k: v for k, v in ctx.answers.items() if k not in ("_repo_dir", "_output_dir")}
    assert state == {
        "template": "https://example.com/template.git",
        "commit": head,
        "checkout": "main",
        "context": {"cookiecutter": expected},
        "directory": None,
    }


# --- steps.py: git_init ------------------------------------------------------------------------


def test_git_init_makes_one_commit_by_the_author(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# My Service\n", encoding="utf-8")
    (tmp_path / ".gitignore").write_text(".env\n", encoding="utf-8")
    (tmp_path / ".env").write_text("SECRET=x\n", encoding="utf-8")

    steps.git_init(
        context(
            tmp_path, git_init="yes", author_name="Ada Lovelace", author_email="ada@example.com"
        )
    )

    log = git(tmp_path, "log", "--format=%an <%ae>|%cn <%ce>|%s")
    assert log.splitlines() == [
        "Ada Lovelace <ada@example.com>|Ada Lovelace <ada@example.com>|"
        "Generate My Service from the async-flask-service template"
    ]
    assert git(tmp_path, "branch", "--show-current") == "main"
    assert git(tmp_path, "ls-files").splitlines() == [".gitignore", "README.md"]
    assert git(tmp_path, "status", "--porcelain") == ""


def test_git_init_does_nothing_when_not_asked(tmp_path: Path) -> None:
    steps.git_init(context(tmp_path, git_init="no"))
    assert not (tmp_path / ".git").exists()


def test_git_init_without_git_fails_its_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(steps.StepFailed, match="git is not installed"):
        steps.git_init(context(tmp_path, git_init="yes"))


def test_git_init_reports_why_git_failed(tmp_path: Path) -> None:
    """An empty project has nothing to commit; git says so on stdout, not stderr."""
    with pytest.raises(steps.StepFailed, match=r"^git commit: .*nothing"):
        steps.git_init(context(tmp_path, git_init="yes"))


# --- local_extensions.py ----------------------------------------------------------------------


def test_team_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(local_extensions.TEAM_ENV, raising=False)
    assert local_extensions.team_from_environment() == "default"
    monkeypatch.setenv(local_extensions.TEAM_ENV, "")
    assert local_extensions.team_from_environment() == "default"
    monkeypatch.setenv(local_extensions.TEAM_ENV, "/teams/platform")
    assert local_extensions.team_from_environment() == "/teams/platform"


@pytest.mark.parametrize(
    ("team", "question", "expected"),
    [
        ("example", "author_name", "Example Team"),
        ("example", "git_init", "yes"),  # TOML true becomes the yes/no answer
        ("example", "python_version", "fallback"),  # not set by the profile
        ("default", "author_name", "fallback"),
        ("nope", "author_name", "fallback"),  # the validation step reports the bad team
    ],
)
def test_team_default(team: str, question: str, expected: str) -> None:
    assert local_extensions.team_default(team, question, "fallback") == expected


def test_every_defaultable_question_asks_the_team() -> None:
    config = cookiecutter_json()
    for question in teams.DEFAULTABLE:
        assert f"cookiecutter.team | team_default('{question}', " in config[question], question
    assert config["team"] == "{{ team_from_environment() }}"
    assert next(iter(config)) == "team", "the team is asked first, so it can set the rest"


def test_a_profile_may_only_default_defaultable_questions(tmp_path: Path) -> None:
    (tmp_path / "team.toml").write_text('[defaults]\nproject_name = "x"\n', encoding="utf-8")
    with pytest.raises(teams.ProfileError, match=r"may set .* not project_name"):
        teams.load(str(tmp_path))


# --- the stubs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hook", "phase"), [("pre_gen_project", "pre"), ("post_gen_project", "post")]
)
def test_a_rendered_stub_runs_its_phase(
    hook: str, phase: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the rendered stub as cookiecutter does: a lone script, cwd the project folder."""
    script = tmp_path / f"{hook}.py"
    script.write_text(render_hook(hook, good_answers(package_name="flask")), encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    result = subprocess.run(
        [sys.executable, str(script)], cwd=project, capture_output=True, text=True, check=False
    )
    if phase == "pre":  # validation runs first and refuses the answers
        assert result.returncode == 1
        assert result.stderr == (
            "error: step 'validate answers' failed: "
            "package_name 'flask' shadows the dependency 'flask'; choose another name\n"
        )
    else:
        assert result.returncode == 0, result.stderr
        assert (project / ".env").is_file()


def test_git_init_yes_without_git_fails_before_any_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert answer_checks.first_error(good_answers(git_init="yes")) == (
        "git_init is yes but git is not installed; install git or answer no"
    )
    assert answer_checks.first_error(good_answers(git_init="no")) is None
