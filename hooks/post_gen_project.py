"""After the files are written: prune, secrets, team files and steps, ``.cruft.json``, git.

``pre_gen_project.py`` left the template checkout's path in the project folder; this stub
removes that note, imports ``steps`` from there and runs the post-generation phase. The only
Jinja is the ``ANSWERS_JSON`` literal.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

# See pre_gen_project.py for why this literal is safe for any answer.
ANSWERS_JSON = r'''{{ cookiecutter | tojson }}'''  # fmt: skip
MARKER = ".template-hooks"
CLONE_PREFIX = "template-hooks-"


def main(answers: dict[str, Any]) -> int:
    marker = Path.cwd() / MARKER
    root = Path(marker.read_text(encoding="utf-8"))
    marker.unlink()
    sys.path.insert(0, str(root / "hooks"))
    import steps

    try:
        return steps.run("post", answers, Path.cwd())
    finally:
        if root.name.startswith(CLONE_PREFIX):  # pre_gen_project's clone, under cruft
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(json.loads(ANSWERS_JSON)))
