"""Before any file is written: check the answers and run the team's pre-generation steps.

Cookiecutter runs each hook as a lone script, so it cannot import its sibling modules by
itself. This stub finds the template checkout it belongs to, puts that checkout's ``hooks/``
on ``sys.path`` and hands over to ``steps.run``; it leaves the path in the project folder for
``post_gen_project.py``, which removes it. The only Jinja is the ``ANSWERS_JSON`` literal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# Jinja's ``tojson`` escapes ``'`` (and <, >, &), so no answer can close this raw '''-quoted
# literal. "fmt: skip" stops ruff format from switching to """, which JSON may contain.
ANSWERS_JSON = r'''{{ cookiecutter | tojson }}'''  # fmt: skip
MARKER = ".template-hooks"
CLONE_PREFIX = "template-hooks-"


def template_root(answers: dict[str, Any]) -> Path:
    """The template checkout being rendered.

    cookiecutter names it (``_repo_dir``). cruft renders from a clone it does not name and
    passes only ``_template`` and ``_commit``, so check that revision's ``hooks/`` and
    ``teams/`` out of the template repository again.
    """
    if "_repo_dir" in answers:
        return Path(answers["_repo_dir"])
    clone = Path(tempfile.mkdtemp(prefix=CLONE_PREFIX))
    git = ["git", "-c", "advice.detachedHead=false"]
    commands = (
        ["clone", "-q", "--no-checkout", answers["_template"], str(clone)],
        ["-C", str(clone), "checkout", "-q", answers["_commit"], "--", "hooks", "teams"],
    )
    for command in commands:
        result = subprocess.run([*git, *command], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(clone, ignore_errors=True)
            reason = (result.stderr.strip() or f"exit {result.returncode}").splitlines()[-1]
            raise SystemExit(f"error: cannot read the template's hooks from git: {reason}")
    return clone


def main(answers: dict[str, Any]) -> int:
    root = template_root(answers)
    (Path.cwd() / MARKER).write_text(str(root), encoding="utf-8")
    sys.path.insert(0, str(root / "hooks"))
    import steps

    code = steps.run("pre", answers, Path.cwd())
    if code != 0 and "_repo_dir" not in answers:  # post_gen_project will not run to remove it
        shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main(json.loads(ANSWERS_JSON)))
