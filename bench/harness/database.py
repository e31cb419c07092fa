"""The database every variant of one run shares: the baked service's SQLite file, or a fresh
PostgreSQL database made for the run and dropped after it, however the run ends."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from harness.bake import log
from harness.cells import POSTGRES_SERVER

#: Where CREATE and DROP DATABASE run: the server's maintenance database.
MAINTENANCE = f"{POSTGRES_SERVER}/postgres"


@contextmanager
def bench_database(store: str, service: Path) -> Iterator[str]:
    """The database URL for ``store``; a PostgreSQL one exists for the ``with`` block only."""
    if store == "sqlite":
        yield sqlite_url(service)
        return
    name = f"bench_{secrets.token_hex(4)}"
    admin(f'CREATE DATABASE "{name}"')
    log(f"created PostgreSQL database {name}")
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        # FORCE: a server killed mid-run may leave connections behind.
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped PostgreSQL database {name}")


def sqlite_url(service: Path) -> str:
    """The SQLite file in the baked service's ``instance/`` folder."""
    return f"sqlite:///{service}/instance/bench.sqlite3"


def admin(statement: str) -> None:
    """One statement on the maintenance database (outside a transaction, as CREATE DATABASE
    must be)."""

    async def run() -> None:
        conn = await asyncpg.connect(MAINTENANCE, timeout=10)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())
