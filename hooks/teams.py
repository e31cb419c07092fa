"""Team profiles: a team's default answers, extra files and steps, kept in one folder.

A profile is a folder holding a ``team.toml``::

    description = "What this team's services get"

    [defaults]              # offered as the defaults of DEFAULTABLE questions
    author_name = "Platform Team"

    [[files]]               # rendered with Jinja, ``{{ cookiecutter.* }}`` as in the template
    source = "files/CODEOWNERS"
    target = "CODEOWNERS"

    [[steps]]
    run = "register_service"  # a function of the profile's steps.py, taking a StepContext
    when = "post"             # "pre": before any file is written; "post": after
    on_update = false         # run again when ``cruft update`` re-renders? (default: false)

The ``team`` answer names a built-in profile (a folder under this template's ``teams/``) or
the path of a profile folder anywhere, so a team can keep its profile in its own repository.
"""

from __future__ import annotations

import functools
import importlib.util
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

TEAMS_DIR = Path(__file__).resolve().parent.parent / "teams"
PROFILE_FILE = "team.toml"
PHASES = ("pre", "post")
#: The ``user_store`` answers; the first is the default unless a profile sets another.
USER_STORES = ("sqlite", "postgres", "http")
#: Questions whose default a profile may set: cookiecutter.json renders their defaults
#: through ``team_default`` (local_extensions.py).
DEFAULTABLE = (
    "description",
    "author_name",
    "author_email",
    "python_version",
    "user_store",
    "git_init",
)


class ProfileError(Exception):
    """The team answer names no usable profile; the message is one line."""


@dataclass(frozen=True)
class TeamStep:
    """One entry of ``[[steps]]``: which function of ``steps.py`` runs, and when."""

    run: str
    when: str
    on_update: bool


@dataclass(frozen=True)
class Profile:
    name: str
    root: Path
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    files: tuple[tuple[str, str], ...] = ()
    steps: tuple[TeamStep, ...] = ()

    def function(self, name: str) -> Callable[..., None]:
        """Import ``name`` from the profile's ``steps.py``."""
        path = self.root / "steps.py"
        if not path.is_file():
            raise ProfileError(f"team {self.name!r} has no steps.py for step {name!r}")
        try:
            module = _import_steps(path, f"team_steps_{self.name}")
        except Exception as error:  # the team's own code: report it in one line
            raise ProfileError(f"team {self.name!r}: cannot import {path}: {error!r}") from None
        function = getattr(module, name, None)
        if not callable(function):
            raise ProfileError(f"team {self.name!r}: steps.py has no function {name!r}")
        return function  # type: ignore[no-any-return]


@functools.cache
def _import_steps(path: Path, name: str) -> ModuleType:
    """A profile's steps.py, executed once however many of its steps run."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def locate(team: str) -> Path:
    """The profile folder a ``team`` answer names: a built-in name or an absolute path.

    Relative paths are refused: hooks run in the new project's folder, not where the user
    started cookiecutter, so a relative path would silently mean something else.
    """
    if team and "/" not in team and "\\" not in team and not team.startswith((".", "~")):
        return TEAMS_DIR / team
    path = Path(team).expanduser()
    if not path.is_absolute():
        raise ProfileError(f"team {team!r}: give a built-in team name or an absolute path")
    return path


def load(team: str) -> Profile:
    """Read and check a profile; every problem is a one-line :class:`ProfileError`."""
    root = locate(team)
    path = root / PROFILE_FILE
    if not path.is_file():
        known = ", ".join(sorted(p.parent.name for p in TEAMS_DIR.glob(f"*/{PROFILE_FILE}")))
        raise ProfileError(f"unknown team {team!r}: no {path}; built-in teams: {known}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ProfileError(f"team {team!r}: cannot read {path}: {error}") from None
    for table, keys in (("files", ("source", "target")), ("steps", ("run",))):
        entries = data.get(table, [])
        if not isinstance(entries, list) or not all(
            isinstance(entry, dict) and all(key in entry for key in keys) for entry in entries
        ):
            raise ProfileError(f"team {team!r}: each [[{table}]] needs {' and '.join(keys)}")
    if not isinstance(data.get("defaults", {}), dict):
        raise ProfileError(f"team {team!r}: [defaults] must be a table")
    if unknown := sorted(set(data.get("defaults", {})) - set(DEFAULTABLE)):
        raise ProfileError(
            f"team {team!r}: [defaults] may set {', '.join(DEFAULTABLE)}, not {', '.join(unknown)}"
        )
    files = tuple((str(f["source"]), str(f["target"])) for f in data.get("files", []))
    for source, target in files:
        if not (root / source).is_file():
            raise ProfileError(f"team {team!r}: file {source!r} is missing from {root}")
        if Path(target).is_absolute() or ".." in Path(target).parts:
            raise ProfileError(f"team {team!r}: target {target!r} must stay inside the project")
    steps = tuple(
        TeamStep(str(s["run"]), str(s.get("when", "post")), bool(s.get("on_update", False)))
        for s in data.get("steps", [])
    )
    for step in steps:
        if step.when not in PHASES:
            raise ProfileError(f"team {team!r}: step {step.run!r} has when={step.when!r}")
    return Profile(
        name=root.name,
        root=root,
        description=str(data.get("description", "")),
        defaults=dict(data.get("defaults", {})),
        files=files,
        steps=steps,
    )
