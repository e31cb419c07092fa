"""The ``db`` commands: create and migrate the user store's schema with Alembic."""

from __future__ import annotations

from collections.abc import Callable

import click
from alembic import command
from alembic.config import Config
from flask.cli import AppGroup
{% if cookiecutter.user_store == "postgres" %}
from ..bridge import run
{%- endif %}
from ..resources import current_settings
from ..users.sql import MIGRATIONS
{%- if cookiecutter.user_store == "postgres" %}
from ..users.sql.postgres import migrate_with
{%- endif %}

db_cli = AppGroup("db", help="Create and migrate the database schema.")


def alembic(action: Callable[[Config], object]) -> None:
    """Run ``action`` with Alembic's config, built in code: the migrations ship in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", current_settings().database_url)
{%- if cookiecutter.user_store == "postgres" %}
    # Over the store's own driver (asyncpg): Alembic gets the sync face of an async connection.
    run(migrate_with(current_settings().database_url, config, action))
{%- else %}
    action(config)
{%- endif %}


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the schema up to REVISION (default: the newest)."""
    alembic(lambda config: command.upgrade(config, revision))
    click.echo(f"database is at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the schema down to REVISION (``base`` removes everything)."""
    alembic(lambda config: command.downgrade(config, revision))


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option("--autogenerate/--empty", default=True, help="Diff the models against the database.")
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new migration file under users/sql/migrations/versions."""
    alembic(lambda config: command.revision(config, message=message, autogenerate=autogenerate))
