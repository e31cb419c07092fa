"""The ``user_store`` answer: each bake holds only the code and dependencies of its store, a team
profile can make another store its default, and ``cruft update`` keeps a service's store."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, git, run

CRUFT = str(Path(sys.executable).parent / "cruft")

#: Per store: files a bake must have, files it must not have, and dependencies it must not list.
STORES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "sqlite": (
        ["users/sql/sqlite.py", "users/sql/engine.py", "cli/db.py", "web/users_api.py"],
        ["users/sql/postgres.py", "users/http_store.py"],
        ["asyncpg"],
    ),
    "postgres": (
        ["users/sql/postgres.py", "cli/db.py", "web/users_api.py"],
        ["users/sql/sqlite.py", "users/sql/engine.py", "users/http_store.py"],
        [],
    ),
    "http": (
        ["users/http_store.py"],
        ["users/sql", "users/passwords.py", "cli/db.py", "web/users_api.py"],
        ["asyncpg", "sqlalchemy", "alembic", "argon2-cffi"],
    ),
}


def dependencies(project: Path) -> list[str]:
    with (project / "pyproject.toml").open("rb") as handle:
        listed: list[str] = tomllib.load(handle)["project"]["dependencies"]
    return [requirement.split(">")[0].split("[")[0].split("=")[0] for requirement in listed]


def assert_store(project: Path, store: str) -> None:
    package = project / "src" / "my_service"
    present, absent, not_needed = STORES[store]
    for path in present:
        assert (package / path).exists(), f"{store}: {path} missing"
    for path in absent:
        assert not (package / path).exists(), f"{store}: {path} should be pruned"
    listed = dependencies(project)
    assert not set(not_needed) & set(listed), f"{store}: {listed}"
    if store == "postgres":
        assert "asyncpg" in listed


@pytest.mark.parametrize("store", STORES)
def test_each_bake_holds_its_own_store_only(cookies: Any, store: str) -> None:
    result = cookies.bake(extra_context={"user_store": store})
    assert result.exit_code == 0, result.exception
    assert_store(Path(result.project_path), store)


def test_a_team_profile_makes_another_store_its_default(cookies: Any, tmp_path: Path) -> None:
    profile = tmp_path / "platform-team"
    profile.mkdir()
    (profile / "team.toml").write_text('[defaults]\nuser_store = "postgres"\n')
    result = cookies.bake(extra_context={"team": str(profile)})
    assert result.exit_code == 0, result.exception
    assert_store(Path(result.project_path), "postgres")


@pytest.mark.parametrize("store", ["postgres", "http"])  # sqlite: tests/test_cruft.py
def test_cruft_update_keeps_the_store(tmp_path: Path, store: str) -> None:
    template = tmp_path / "template"
    subprocess.run([str(REPO_ROOT / "scripts" / "export-template"), str(template)], check=True)
    git(template, "init", "--quiet", "--initial-branch=main")
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "--message", "A")
    context = json.dumps({"user_store": store})
    created = run(CRUFT, "create", "--no-input", "--extra-context", context,
                  "--output-dir", str(tmp_path), str(template), cwd=tmp_path)  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    service = tmp_path / "my-service"
    git(service, "init", "--quiet", "--initial-branch=main")
    git(service, "add", "--all")
    git(service, "commit", "--quiet", "--message", "generated")

    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text() + "\nOne more line.\n")
    git(template, "commit", "--quiet", "--all", "--message", "B")
    updated = run(CRUFT, "update", "--skip-apply-ask", cwd=service)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "One more line." in (service / "README.md").read_text()
    assert_store(service, store)
