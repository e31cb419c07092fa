"""Rename login_sessions to logins: "session" now means only Flask's cookie session.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_login_sessions_user_id", table_name="login_sessions")
    op.rename_table("login_sessions", "logins")
    op.create_index("ix_logins_user_id", "logins", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_logins_user_id", table_name="logins")
    op.rename_table("logins", "login_sessions")
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
