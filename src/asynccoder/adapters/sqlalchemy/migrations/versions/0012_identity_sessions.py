"""identity sessions: a per-user revocation point and what a session shows of itself

Revision ID: 0012_identity_sessions
Revises: 0009_tasks
Create Date: 2026-12-02

Adds ``users.credentials_valid_after`` (access tokens issued before it stop working: set when a user
is disabled or changes their password) and, on ``refresh_tokens``, ``session_started_at`` (the login
time, carried along every rotation), ``client_ip`` and ``user_agent`` (of the request that created the
link). All nullable: rows written before this revision simply have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime

revision: str = "0012_identity_sessions"
down_revision: str | Sequence[str] | None = "0011_github_mirroring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("credentials_valid_after", UtcDateTime(), nullable=True))
    op.add_column("refresh_tokens", sa.Column("session_started_at", UtcDateTime(), nullable=True))
    op.add_column("refresh_tokens", sa.Column("client_ip", sa.String(64), nullable=True))
    op.add_column("refresh_tokens", sa.Column("user_agent", sa.String(256), nullable=True))


def downgrade() -> None:
    op.drop_column("refresh_tokens", "user_agent")
    op.drop_column("refresh_tokens", "client_ip")
    op.drop_column("refresh_tokens", "session_started_at")
    op.drop_column("users", "credentials_valid_after")
