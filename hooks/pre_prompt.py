"""Before cookiecutter asks anything: explain missing tools, apply a team's default answers.

Cookiecutter (2.4+) runs this in a temporary copy of the template, so it may rewrite that
copy's ``cookiecutter.json``: the team's ``[defaults]`` become the defaults cookiecutter
offers. The team comes from ``$ASYNC_FLASK_SERVICE_TEAM`` or from ``team`` in the
``default_context`` of the user's cookiecutter config. (``--extra-context team=…`` is not
visible here; it still selects the team's files and steps, but not its default answers. cruft
does not run this hook at all.)
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 -- the point is to run on older Pythons
    sys.exit("error: this template's hooks need Python 3.11 or newer to run cookiecutter")

import json
import os
import shutil
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path.cwd() / "hooks"))
import teams

ENV_VAR = "ASYNC_FLASK_SERVICE_TEAM"


def configured_team() -> str | None:
    """The team chosen outside the prompts: the environment, then the user's config."""
    if team := os.environ.get(ENV_VAR):
        return team
    config = Path(os.environ.get("COOKIECUTTER_CONFIG", "~/.cookiecutterrc")).expanduser()
    if not config.is_file():
        return None
    import yaml  # cookiecutter's own dependency

    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    team = (data.get("default_context") or {}).get("team")
    return str(team) if team else None


def with_team_defaults(config: dict[str, Any], team: str, profile: teams.Profile) -> dict[str, Any]:
    """``config`` (cookiecutter.json) with the team and its defaults as the offered defaults."""
    updated = {**config, "team": team}
    for key, value in profile.defaults.items():
        if key.startswith("_") or key not in config:
            raise teams.ProfileError(f"team {team!r}: [defaults] names no question {key!r}")
        choices = config[key]
        if isinstance(choices, list):  # a choice question: its first entry is the default
            if value not in choices:
                raise teams.ProfileError(f"team {team!r}: {key}={value!r} is not one of {choices}")
            updated[key] = [value, *(c for c in choices if c != value)]
        else:
            updated[key] = value
    return updated


def main() -> int:
    if shutil.which("git") is None:
        print("note: git is not installed; git_init and cruft updates need it", file=sys.stderr)
    team = configured_team()
    if team is None:
        return 0
    path = Path("cookiecutter.json")
    try:
        config = with_team_defaults(json.loads(path.read_text()), team, teams.load(team))
    except teams.ProfileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
