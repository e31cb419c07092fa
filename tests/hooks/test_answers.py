"""hooks/answers.py: every answer check, each failing the pre phase in one line."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    REPO_ROOT,
    answer_checks,
    context,
    good_answers,
    steps,
)


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
        ({"user_store": "mysql"}, "user_store 'mysql' is not one of sqlite, postgres, http"),
        ({"user_store": ""}, "user_store '' is not one of sqlite, postgres, http"),
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


def test_the_user_store_prompt_names_every_store() -> None:
    """The prompt lists the stores the answer check accepts, and the default is the first."""
    config = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    prompt = config["__prompts__"]["user_store"]
    assert all(store in prompt for store in answer_checks.USER_STORES)
    first = answer_checks.USER_STORES[0]
    assert config["user_store"].endswith(f"team_default('user_store', '{first}') }}}}")


def test_git_init_yes_without_git_fails_before_any_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert answer_checks.first_error(good_answers(git_init="yes")) == (
        "git_init is yes but git is not installed; install git or answer no"
    )
    assert answer_checks.first_error(good_answers(git_init="no")) is None
