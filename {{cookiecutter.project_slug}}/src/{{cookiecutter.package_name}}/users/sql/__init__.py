"""The SQL user store: the tables, the store over its database, and Alembic's migrations.

The tables (``tables.py``) and migrations serve every SQL database the template offers; the
store module is the one for this service's database.
"""

from pathlib import Path

#: The Alembic script folder; ``flask db ...`` runs it.
MIGRATIONS = Path(__file__).with_name("migrations")

__all__ = ["MIGRATIONS"]
