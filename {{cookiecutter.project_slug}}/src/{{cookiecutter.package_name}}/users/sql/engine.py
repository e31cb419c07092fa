"""The SQLAlchemy engine behind the SQL user store: SQLite through the stdlib ``sqlite3``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import NullPool

from ...settings import sqlite_path


def create_engine(url: str, *, pool_size: int | None, pool_timeout: float = 5.0) -> sa.Engine:
    """An engine for ``url`` keeping ``pool_size`` connections; ``None`` for no pool at all.

    A server's store keeps one connection per store thread, so a thread never waits for one;
    outside a server (the CLI, Flask's test client) nothing is pooled, so no connection
    outlives the call that used it.
    """
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = (
        {"poolclass": NullPool}
        if pool_size is None
        else {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout}
    )
    engine = sa.create_engine(url, **options)
    event.listen(engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer work at once; busy_timeout waits instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
