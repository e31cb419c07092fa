"""Alembic environment: runs migrations over the user store's database.

Alembic is synchronous. The ``flask db`` commands may hand it a connection in
``config.attributes["connection"]`` (PostgreSQL: the sync face of an async connection); without
one, it opens the database URL itself, unpooled, in the calling thread (SQLite's stdlib driver).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.settings import sqlite_path
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
    given: Connection | None = context.config.attributes.get("connection")
    if given is not None:
        _migrate(given)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    if (path := sqlite_path(url)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, poolclass=NullPool)
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
