"""Finish a freshly generated service: give it a secret and drop unused files.

Cookiecutter renders this file with Jinja and runs it with the working
directory set to the generated project. The only Jinja in this file is the
``ANSWERS_JSON`` literal below; everything else is plain Python so that ruff
can lint it and ``tests/test_hooks.py`` can import it and call ``main()``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Jinja's ``tojson`` escapes ``'`` (and <, >, &), so no answer can close this
# raw '''-quoted literal. "fmt: skip" stops ruff format from switching
# to double quotes, which JSON text *can* contain three of in a row.
ANSWERS_JSON = r'''{{ cookiecutter | tojson }}'''  # fmt: skip

ENV_FILE = ".env"
SECRET_KEY_BYTES = 48

# (path relative to the project, predicate saying the path is NOT needed for
# these answers). Paths may use ``{package_name}``. The template always ships
# every file; this table removes what a given answer set does not use, which
# keeps the template free of per-file Jinja conditionals.
PRUNE: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    # The HTTP user store talks to a remote service; it has no local tables.
    ("src/{package_name}/sql_store.py", lambda a: a.get("user_store") == "http"),
    ("src/{package_name}/migrations", lambda a: a.get("user_store") == "http"),
)


def env_lines(prefix: str) -> list[str]:
    """Settings a developer needs to start the service locally. The secret is
    made here, per project, so that no two services ever share one and it
    never sits in the template or in cookiecutter's replay file."""
    return [
        f"{prefix}ENV=development",
        f"{prefix}SECRET_KEY={secrets.token_urlsafe(SECRET_KEY_BYTES)}",
    ]


def write_env_file(path: Path, prefix: str) -> bool:
    """Create ``path`` readable by the owner only. Return False, leaving the
    file untouched, when it already exists (e.g. ``cookiecutter -f`` over an
    existing checkout), because replacing a secret logs everybody out."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(env_lines(prefix)) + "\n")
    # os.open's mode is filtered by the umask; make 0600 explicit.
    path.chmod(0o600)
    return True


def prune(root: Path, answers: dict[str, Any]) -> list[Path]:
    """Remove every PRUNE path whose predicate says these answers don't need
    it, and return what was removed. Missing paths are skipped so that the
    table can name files that only some template versions have."""
    removed: list[Path] = []
    for pattern, not_needed in PRUNE:
        if not not_needed(answers):
            continue
        target = root / pattern.format(package_name=answers["package_name"])
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        else:
            continue
        removed.append(target)
    return removed


def main(answers: dict[str, Any]) -> int:
    """Run in the generated project: write ``.env`` once, then prune."""
    root = Path.cwd()
    if not write_env_file(root / ENV_FILE, answers["__env_prefix"]):
        print(f"note: {ENV_FILE} already exists; left it unchanged", file=sys.stderr)
    prune(root, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(ANSWERS_JSON)))
