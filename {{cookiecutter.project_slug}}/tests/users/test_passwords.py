"""Passwords are stored as argon2id hashes."""

from __future__ import annotations

import sqlite3

from {{ cookiecutter.package_name }}.settings import Settings, sqlite_path
from tests.support import PASSWORD


def test_passwords_are_stored_as_argon2id(settings: Settings) -> None:
    path = sqlite_path(settings.database_url)
    assert path is not None
    with sqlite3.connect(path) as db:
        (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
