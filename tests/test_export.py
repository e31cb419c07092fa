"""``scripts/export-template`` copies what git would publish, to an absolute or relative DEST."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import REPO_ROOT


@pytest.mark.parametrize("dest", ["relative/out", "absolute"])
def test_export_copies_the_published_files_only(tmp_path: Path, dest: str) -> None:
    target = tmp_path / dest
    argument = dest if dest.startswith("relative") else str(target)
    script = str(REPO_ROOT / "scripts" / "export-template")
    subprocess.run([script, argument], cwd=tmp_path, check=True)
    assert (target / "cookiecutter.json").is_file()
    assert (target / "hooks" / "steps.py").is_file()
    assert (target / "{{cookiecutter.project_slug}}" / "pyproject.toml").is_file()
    assert not (target / ".venv").exists()
    assert not (target / ".git").exists()
