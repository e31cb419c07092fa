"""``flask db`` and ``flask users`` commands, run as a user would run them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings, sqlite_path
from tests.support import make_settings, run_cli


def test_upgrade_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    assert run_cli(app, "db", "upgrade")[0] == 0
    assert run_cli(app, "db", "upgrade")[0] == 0
    with sqlite3.connect(tmp_path / "users.sqlite3") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "logins", "alembic_version"} <= tables


def test_upgrading_a_database_from_0001_keeps_its_logins(settings: Settings) -> None:
    # A database at 0001 holds its logins in login_sessions; 0002 renames the table, rows kept.
    app = create_app(settings)
    assert run_cli(app, "db", "upgrade")[0] == 0
    assert run_cli(app, "db", "downgrade", "0001")[0] == 0
    path = sqlite_path(settings.database_url)
    assert path is not None
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO login_sessions VALUES ('ab12', 1, '2030-01-01 00:00:00', "
            "'2030-01-02 00:00:00')"
        )
    assert run_cli(app, "db", "upgrade")[0] == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT token_hash, user_id FROM logins").fetchall() == [("ab12", 1)]
        indexes = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
    assert "ix_logins_user_id" in indexes


def test_downgrade_to_base_removes_the_schema(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    run_cli(app, "db", "upgrade")
    assert run_cli(app, "db", "downgrade", "base")[0] == 0
    with sqlite3.connect(tmp_path / "users.sqlite3") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "users" not in tables


def test_create_user_rejects_duplicates_and_short_passwords(settings: Settings) -> None:
    app = create_app(settings)
    code, output = run_cli(
        app, "users", "create", "alice", "--password-stdin", stdin="long enough pw"
    )
    assert code != 0
    assert "exists already" in output
    code, output = run_cli(app, "users", "create", "bob", "--password-stdin", stdin="short")
    assert code != 0
    assert "at least 8 characters" in output
    code, output = run_cli(app, "users", "create", "bad\x00name", "--password-stdin", stdin="x" * 9)
    assert code != 0


def test_flask_cli_in_a_real_process(tmp_path: Path) -> None:
    """``flask --app … users create`` reads the password from a pipe, as the README shows."""
    env = {
        **os.environ,
        "{{ cookiecutter.__env_prefix }}DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3",
        "{{ cookiecutter.__env_prefix }}SECRET_KEY": "cli-test-" + "k3y" * 12,
    }
    flask = [sys.executable, "-m", "flask", "--app", "{{ cookiecutter.package_name }}"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*flask, "users", "create", "carol"],
        env=env,
        input="a good long password\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert "created user 'carol'" in created.stdout
