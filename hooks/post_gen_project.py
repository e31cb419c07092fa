"""After the files are written: prune, secret, team files and steps, uv.lock, .cruft.json, git.

A stub like ``pre_gen_project.py``: it puts the template's ``hooks/`` on ``sys.path`` and runs
the post-generation phase of ``steps.run``. Jinja appears only inside the two string literals.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# See pre_gen_project.py for why these literals are safe for any answer.
ANSWERS_JSON = r'''{{ cookiecutter | tojson }}'''  # fmt: skip
HOOKS_DIR = r'''{{ template_hooks_dir }}'''  # fmt: skip

if __name__ == "__main__":
    sys.path.insert(0, HOOKS_DIR)
    import steps

    sys.exit(steps.run("post", json.loads(ANSWERS_JSON), Path.cwd()))
