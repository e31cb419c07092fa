"""``flask --app {{ cookiecutter.package_name }} db …`` and ``… users …`` commands.

Commands are sync (click), so they reach the async store through ``bridge.run`` like any other
sync code; without a server that runs them on the bridge's background loop.
"""

from __future__ import annotations

import sys

import click
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.cli import AppGroup

from .bridge import run
from .resources import current_settings, user_store
from .users import UsernameTaken, normalize_username, validate_username
from .users.sql import MIGRATIONS

db_cli = AppGroup("db", help="Create and migrate the database schema.")
users_cli = AppGroup("users", help="Manage users.")


def alembic_config() -> Config:
    """Alembic's config, built in code: the migrations ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", current_settings().database_url)
    return config


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the schema up to REVISION (default: the newest)."""
    command.upgrade(alembic_config(), revision)
    click.echo(f"database is at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the schema down to REVISION (``base`` removes everything)."""
    command.downgrade(alembic_config(), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option("--autogenerate/--empty", default=True, help="Diff the models against the database.")
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new migration file under migrations/versions."""
    command.revision(alembic_config(), message=message, autogenerate=autogenerate)


@users_cli.command("create")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of prompting (for scripts).",
)
def users_create(username: str, password_stdin: bool) -> None:
    """Create USERNAME; the password is prompted for without echo, or read from stdin."""
    username = normalize_username(username)
    if problem := validate_username(username):
        raise click.BadParameter(problem, param_hint="USERNAME")
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    minimum = current_settings().password_min_length
    if len(password) < minimum:
        raise click.UsageError(f"the password must be at least {minimum} characters")
    try:
        user = run(user_store().create_user(username, password))
    except UsernameTaken:
        raise click.UsageError(f"user {username!r} exists already") from None
    click.echo(f"created user {user.username!r} with id {user.id}")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
