"""hooks/teams.py: loading built-in and path team profiles, and every way one is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .helpers import (
    REPO_ROOT,
    make_profile,
    teams,
)


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


def test_a_profile_may_only_default_defaultable_questions(tmp_path: Path) -> None:
    (tmp_path / "team.toml").write_text('[defaults]\nproject_name = "x"\n', encoding="utf-8")
    with pytest.raises(teams.ProfileError, match=r"may set .* not project_name"):
        teams.load(str(tmp_path))
