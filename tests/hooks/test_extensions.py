"""local_extensions.py: the Jinja helpers cookiecutter.json uses to ask the team first and
take its defaults."""

from __future__ import annotations

import pytest

from .helpers import cookiecutter_json, local_extensions, teams


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
