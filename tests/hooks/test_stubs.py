"""The cookiecutter hook stubs (pre_gen_project.py, post_gen_project.py): their only Jinja
is two string literals, and rendered as cookiecutter renders them they run their phase.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    HOOKS,
    HOOKS_DIR,
    cookiecutter_json,
    good_answers,
    render_hook,
)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_jinja_stays_inside_its_two_string_literals(hook: str) -> None:
    source = (HOOKS_DIR / f"{hook}.py").read_text(encoding="utf-8")
    assert source.count("{{") == 2
    assert source.count("}}") == 2
    assert "{%" not in source
    assert "{#" not in source
    assert "ANSWERS_JSON = r'''{{ cookiecutter | tojson }}'''" in source
    assert "HOOKS_DIR = r'''{{ template_hooks_dir }}'''" in source


@pytest.mark.parametrize("hook", HOOKS)
def test_answers_literal_survives_hostile_values(hook: str) -> None:
    """Render the hook as cookiecutter does and read the answers and hooks folder back."""
    hostile = "it's ''' \"\"\" \\ \\' <b>&</b> {{ x }} \u00e9\n"
    answers = good_answers(project_name=hostile, description=hostile)
    namespace: dict[str, Any] = {"__name__": "rendered_hook"}
    exec(compile(render_hook(hook, answers), "<rendered hook>", "exec"), namespace)  # noqa: S102
    assert json.loads(namespace["ANSWERS_JSON"]) == {
        **answers,
        "_extensions": cookiecutter_json()["_extensions"],
    }
    assert Path(namespace["HOOKS_DIR"]) == HOOKS_DIR


@pytest.mark.parametrize(
    ("hook", "phase"), [("pre_gen_project", "pre"), ("post_gen_project", "post")]
)
def test_a_rendered_stub_runs_its_phase(
    hook: str, phase: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the rendered stub as cookiecutter does: a lone script, cwd the project folder."""
    script = tmp_path / f"{hook}.py"
    script.write_text(render_hook(hook, good_answers(package_name="flask")), encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    result = subprocess.run(
        [sys.executable, str(script)], cwd=project, capture_output=True, text=True, check=False
    )
    if phase == "pre":  # validation runs first and refuses the answers
        assert result.returncode == 1
        assert result.stderr == (
            "error: step 'validate answers' failed: "
            "package_name 'flask' shadows the dependency 'flask'; choose another name\n"
        )
    else:
        assert result.returncode == 0, result.stderr
        assert (project / ".env").is_file()
