"""Before any file is written: check the answers and run the team's pre-generation steps.

Cookiecutter runs each hook as a lone script that cannot import its sibling modules, so this
stub puts the template's ``hooks/`` on ``sys.path`` (``template_hooks_dir`` comes from
``local_extensions.py``; it names the folder being rendered, cruft's clone included) and hands
over to ``steps.run``. Jinja appears only inside the two string literals below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Jinja's ``tojson`` escapes ``'`` (and <, >, &), so no answer can close this raw '''-quoted
# literal. "fmt: skip" stops ruff format from switching to """, which JSON may contain.
ANSWERS_JSON = r'''{{ cookiecutter | tojson }}'''  # fmt: skip
HOOKS_DIR = r'''{{ template_hooks_dir }}'''  # fmt: skip

if __name__ == "__main__":
    sys.path.insert(0, HOOKS_DIR)
    import steps

    sys.exit(steps.run("pre", json.loads(ANSWERS_JSON), Path.cwd()))
