"""The example team's steps: keep a registry of generated services in a JSON-lines file.

A step is a plain function taking the hooks' ``StepContext`` (answers, project folder, the
profile, and whether ``cruft update`` is re-rendering). Raising ``StepFailed`` with a one-line
reason stops generation and removes the half-written project. The registry is a local file
here (``$EXAMPLE_TEAM_REGISTRY``, default ``~/.example-team/services.jsonl``); a real team
would call its service catalogue's API instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from steps import StepContext, StepFailed


def registry() -> Path:
    default = Path("~/.example-team/services.jsonl").expanduser()
    return Path(os.environ.get("EXAMPLE_TEAM_REGISTRY", default))


def registered_names() -> set[str]:
    if not registry().is_file():
        return set()
    lines = registry().read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["name"] for line in lines if line.strip()}


def refuse_taken_name(ctx: StepContext) -> None:
    """Before generation: two services must not share a name."""
    name = ctx.answers["project_slug"]
    if name in registered_names():
        raise StepFailed(f"a service named {name!r} is already registered in {registry()}")


def register_service(ctx: StepContext) -> None:
    """After generation: record the new service."""
    entry = {"name": ctx.answers["project_slug"], "package": ctx.answers["package_name"]}
    registry().parent.mkdir(parents=True, exist_ok=True)
    with registry().open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
