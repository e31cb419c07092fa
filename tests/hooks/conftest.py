"""Fixtures for every hook unit test in this folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .helpers import steps


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git never finds a repository above tmp_path, and the hooks' ``sys.path`` insertions are
    undone (tests/conftest.py hides the developer's team, cookiecutter config and git identity)."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def fresh_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run steps as in a fresh generation, without asking ``ps`` about the parent process."""
    monkeypatch.setattr(steps, "under_cruft_update", lambda: False)
