"""Alembic environment: runs migrations over the user store's database.

Alembic is synchronous, like the stdlib ``sqlite3`` driver the user store uses, so migrations
need no event loop: they run on the store's own engine, unpooled, in the calling thread.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from {{ cookiecutter.package_name }}.users.sql.engine import create_engine
from {{ cookiecutter.package_name }}.users.sql.tables import metadata as target_metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url, pool_size=None)
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    _run_online()
