"""Jinja helpers for this template's ``cookiecutter.json`` and hooks.

Cookiecutter loads this module as a *local extension* (``_extensions`` in cookiecutter.json)
with the template folder on ``sys.path``, and cruft does the same with its clone of the
template, so both tools render with it:

* ``team_from_environment()``: the default of the ``team`` question,
  ``$ASYNC_FLASK_SERVICE_TEAM`` or ``default``;
* ``team | team_default("author_name", "Your Name")``: a question's default from the team's
  profile (``hooks/teams.py``), so a team chosen by any means (prompt, ``--extra-context``,
  ``~/.cookiecutterrc``, the environment variable) brings its default answers;
* ``template_hooks_dir``: where this revision's ``hooks/`` is, for the hook scripts, which
  cookiecutter runs as lone files that could not find their sibling modules otherwise.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 -- explain it, rather than fail on tomllib
    # cookiecutter reports an ImportError from an extension as "Unable to load extension: …".
    raise ImportError(
        "this template needs cookiecutter to run on Python 3.11 or newer "
        f"(this is {sys.version.split()[0]})"
    )

import functools
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

HOOKS_DIR = Path(__file__).resolve().parent / "hooks"
TEAM_ENV = "ASYNC_FLASK_SERVICE_TEAM"


@functools.cache
def _teams() -> ModuleType:
    """hooks/teams.py, imported by path under a private name (hooks/ stays off sys.path)."""
    spec = importlib.util.spec_from_file_location("_template_teams", HOOKS_DIR / "teams.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@functools.cache
def _load_team(team: str) -> Any:
    """The profile, read once per cookiecutter run rather than once per question."""
    return _teams().load(team)


def team_from_environment() -> str:
    return os.environ.get(TEAM_ENV) or "default"


def team_default(team: str, question: str, fallback: str) -> str:
    """The team profile's default for ``question``, else ``fallback``.

    A team that cannot be loaded yields the fallback here; the pre-generation validation
    step reports it in one line, before any file is written.
    """
    teams = _teams()
    try:
        profile = _load_team(str(team))
    except teams.ProfileError:
        return fallback
    value = profile.defaults.get(question, fallback)
    if isinstance(value, bool):  # TOML true/false for yes/no questions
        return "yes" if value else "no"
    return str(value)


class TemplateExtension(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["team_from_environment"] = team_from_environment
        environment.globals["template_hooks_dir"] = str(HOOKS_DIR)
        environment.filters["team_default"] = team_default
