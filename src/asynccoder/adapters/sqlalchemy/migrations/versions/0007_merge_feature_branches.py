"""merge the identity, billing, AI catalogue and GitHub branches into one head

Revision ID: 0007_merge_feature_branches
Revises: 0003_identity, 0004_billing, 0005_ai_catalogue, 0006_github
Create Date: 2026-11-30

The four feature migrations were written in parallel on top of 0002 and touch disjoint tables; this revision
joins them so that later migrations have a single parent again.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007_merge_feature_branches"
down_revision: str | Sequence[str] | None = (
    "0003_identity",
    "0004_billing",
    "0005_ai_catalogue",
    "0006_github",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the parents' tables are independent."""


def downgrade() -> None:
    """Nothing to undo."""
