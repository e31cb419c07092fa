"""Production refuses to start with an unsafe secret or debug on."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.settings import Settings

STRONG = "Zx8-" + "q7Lm2Vr9Tk4Wb6Ns" * 3


def production(**values: object) -> Settings:
    return Settings.model_validate({"env": "production", **values})


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("", "unset or a known placeholder"),
        ("change-me", "unset or a known placeholder"),
        ("short-but-random-3x9", "at least 32 characters"),
        ("a" * 64, "too predictable"),
        ("ab" * 32, "too predictable"),
    ],
)
def test_production_refuses_unsafe_secrets(secret: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        production(secret_key=secret)


def test_production_refuses_debug() -> None:
    with pytest.raises(ValidationError, match="DEBUG must be off"):
        production(secret_key=STRONG, debug=True)


def test_production_accepts_a_strong_secret() -> None:
    assert production(secret_key=STRONG).is_production


def test_the_asgi_entrypoint_will_not_import_with_an_unsafe_secret(tmp_path: object) -> None:
    env = {
        "{{ cookiecutter.__env_prefix }}ENV": "production",
        "{{ cookiecutter.__env_prefix }}SECRET_KEY": "change-me",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ":".join(sys.path),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import {{ cookiecutter.package_name }}.asgi"],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
    )
    assert result.returncode != 0
    assert "SECRET_KEY is unset or a known placeholder" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://localhost/users",  # the store is SQLite only
        "sqlite+aiosqlite:///:memory:",  # an older service's URL, and in memory too
        "sqlite:///:memory:",  # one empty database per pooled connection
        "sqlite://",
    ],
)
def test_only_a_sqlite_file_is_accepted_as_the_user_store(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({"database_url": url})
    message = refused.value.errors()[0]["msg"]
    # The example it offers is a file URL, whatever was given.
    assert message.endswith("must be a SQLite file URL such as sqlite:///instance/users.sqlite3")


def test_an_aiosqlite_url_from_an_older_service_is_refused_with_its_replacement() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({"database_url": "sqlite+aiosqlite:///data/users.db"})
    message = refused.value.errors()[0]["msg"]
    assert message.endswith("must be a SQLite file URL such as sqlite:///data/users.db")
