"""Settings: production refuses an unsafe secret or debug on; one typed object is read."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.bridge import LoopFlask
from {{ cookiecutter.package_name }}.resources import current_settings
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings
from tests.support import make_settings

STRONG = "Zx8-" + "q7Lm2Vr9Tk4Wb6Ns" * 3


def production(**values: object) -> Settings:
{%- if cookiecutter.user_store == "http" %}
    token = {"user_service_token": "users-api-" + STRONG}  # production requires one
    return Settings.model_validate({"env": "production", **token, **values})
{%- else %}
    return Settings.model_validate({"env": "production", **values})
{%- endif %}


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


@pytest.mark.parametrize("name", [f"{ENV_PREFIX}LOGIN_LIFETIME", f"{ENV_PREFIX}SESSION_LIFETIME"])
def test_the_login_lifetime_is_read_under_its_name_and_its_old_one(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A service that set SESSION_LIFETIME before the setting was renamed keeps its lifetime.
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv(name, "PT30M")
    assert Settings().login_lifetime == timedelta(minutes=30)


def test_the_service_reads_settings_from_one_object_not_app_config(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, upstream_url="http://x/")
    app = create_app(settings)
    assert current_settings_of(app) is settings
    # Only Flask's and its extensions' own keys are set from the settings.
    assert "UPSTREAM_URL" not in app.config
    assert "DATABASE_URL" not in app.config
    assert app.config["MAX_CONTENT_LENGTH"] == settings.max_content_length


def current_settings_of(app: LoopFlask) -> Settings:
    with app.app_context():
        return current_settings()
