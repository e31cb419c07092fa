"""``flask db ...``: the schema is created, migrated and removed as Alembic's revisions say."""

from __future__ import annotations

from pathlib import Path

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.store import query, table_names
from tests.support import make_settings, run_cli


def test_upgrade_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings)
    assert run_cli(app, "db", "upgrade")[0] == 0
    assert run_cli(app, "db", "upgrade")[0] == 0
    assert {"users", "logins", "alembic_version"} <= table_names(settings)


def test_upgrading_a_database_from_0001_keeps_its_logins(settings: Settings) -> None:
    # A database at 0001 holds its logins in login_sessions; 0002 renames the table, rows kept.
    app = create_app(settings)
    assert run_cli(app, "db", "downgrade", "0001")[0] == 0
    query(
        settings,
        "INSERT INTO login_sessions (token_hash, user_id, created_at, expires_at) "
        "SELECT 'ab12', id, created_at, created_at FROM users",
    )
    assert run_cli(app, "db", "upgrade")[0] == 0
    assert query(settings, "SELECT token_hash FROM logins") == [("ab12",)]
    assert "login_sessions" not in table_names(settings)


def test_downgrade_to_base_removes_the_schema(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings)
    run_cli(app, "db", "upgrade")
    assert run_cli(app, "db", "downgrade", "base")[0] == 0
    assert "users" not in table_names(settings)
