"""The SQL user store: tables, engine, store and Alembic migrations (``MIGRATIONS``)."""

from pathlib import Path

from .engine import create_engine
from .store import SQLUserStore

#: The Alembic script folder; ``flask db ...`` runs it.
MIGRATIONS = Path(__file__).with_name("migrations")

__all__ = ["MIGRATIONS", "SQLUserStore", "create_engine"]
