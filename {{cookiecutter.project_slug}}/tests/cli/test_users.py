"""``flask users ...``: accounts made as a user would make them, in-process and in a shell."""

from __future__ import annotations

import os
import subprocess
import sys
{%- if cookiecutter.user_store != "http" %}
from pathlib import Path
{%- endif %}

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
{%- if cookiecutter.user_store == "http" %}
from tests.support import run_cli, store_environment, user_service
{%- else %}
from tests.support import make_settings, run_cli, store_environment
{%- endif %}


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


{%- if cookiecutter.user_store == "http" %}


def test_flask_cli_in_a_real_process(settings: Settings) -> None:
    """``flask --app … users create`` reads the password from a pipe, as the README shows,
    and creates the user at the user service."""
    env = {
        **os.environ,
        **store_environment(settings),
{%- else %}


def test_flask_cli_in_a_real_process(tmp_path: Path) -> None:
    """``flask --app … users create`` reads the password from a pipe, as the README shows."""
    env = {
        **os.environ,
        **store_environment(make_settings(tmp_path)),
{%- endif %}
        "{{ cookiecutter.__env_prefix }}SECRET_KEY": "cli-test-" + "k3y" * 12,
    }
    flask = [sys.executable, "-m", "flask", "--app", "{{ cookiecutter.package_name }}"]
{%- if cookiecutter.user_store != "http" %}
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
{%- endif %}
    created = subprocess.run(
        [*flask, "users", "create", "carol"],
        env=env,
        input="a good long password\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert "created user 'carol'" in created.stdout
{%- if cookiecutter.user_store == "http" %}
    assert any(u.account.username == "carol" for u in user_service(settings).store.users.values())
{%- endif %}


def test_the_account_lifecycle_from_the_shell(settings: Settings) -> None:
    app = create_app(settings)
    code, output = run_cli(app, "users", "list")
    assert code == 0
    assert "\talice\tactive\t" in output
    code, output = run_cli(
        app, "users", "set-password", "alice", "--password-stdin", stdin="qwerty123"
    )
    assert code != 0
    assert "too common" in output
    new = "another long passphrase"
    assert run_cli(app, "users", "set-password", "alice", "--password-stdin", stdin=new)[0] == 0
    assert run_cli(app, "users", "deactivate", "alice")[0] == 0
    assert "\talice\tinactive\t" in run_cli(app, "users", "list")[1]
    assert run_cli(app, "users", "activate", "alice")[0] == 0
    code, output = run_cli(app, "users", "delete", "nobody", "--yes")
    assert code != 0
    assert "no user 'nobody'" in output
    assert run_cli(app, "users", "delete", "alice", "--yes")[0] == 0
    assert run_cli(app, "users", "list")[1] == ""


def test_tokens_from_the_shell(settings: Settings) -> None:
    app = create_app(settings)
    code, output = run_cli(
        app, "users", "token", "create", "deploy", "--user", "alice", "--scope", "orders:read"
    )
    assert code == 0, output
    secret = output.strip().splitlines()[-1]
    assert secret.startswith("tok_")
    code, listed = run_cli(app, "users", "token", "list", "--user", "alice")
    assert code == 0
    token_id, name, scopes, expiry = listed.strip().split("\t")
    assert (name, scopes, expiry) == ("deploy", "orders:read", "never")
    assert secret not in listed
    assert run_cli(app, "users", "token", "revoke", token_id, "--user", "alice")[0] == 0
    assert run_cli(app, "users", "token", "list", "--user", "alice")[1] == ""
    code, output = run_cli(
        app, "users", "token", "create", "x", "--user", "alice", "--scope", "Bad!"
    )
    assert code != 0
    assert "not a scope" in output
