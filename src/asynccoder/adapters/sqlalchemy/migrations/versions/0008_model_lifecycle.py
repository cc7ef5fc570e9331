"""model lifecycle: deprecation and retirement dates and a replacement for catalogue models

Revision ID: 0008_model_lifecycle
Revises: 0007_merge_feature_branches
Create Date: 2026-12-01

Adds ``ai_models.deprecated_on``, ``retires_on`` (UTC days) and ``replacement_model_id`` (another catalogue
model; deleting that one clears the reference first), with CHECKs that retirement is not before deprecation
and that a model does not replace itself.

Seeds dates only for seeded models (0005) whose provider has published them, as read on 2026-12-01:

- ``claude-opus-4-5-20251101``: retires 2027-01-22 -- the end-of-life date Anthropic ships in its Python SDK
  2.15.0 (``anthropic/_data/deprecated_models.py``: "January 22nd, 2027", for this id and ``claude-opus-4-5``;
  the SDK warns on every call with it). Deprecated 2026-11-23 -- the deprecation date of Anthropic's model
  deprecations page (platform.claude.com/docs/en/about-claude/model-deprecations, "Model status" table) as
  quoted by the modelpin 0.5.7 release notes, which re-read that page on 2026-11-26; the copy of the page in
  our reference index predates the change, so this one date is second-hand. The recommended replacement,
  ``claude-opus-5-5``, is not in the seeded catalogue: no replacement is set.
- ``gpt-5`` and ``gpt-5-mini``: deprecated 2026-06-11, shut down 2026-12-11 -- OpenAI's deprecations page
  (developers.openai.com/api/docs/deprecations, "Upcoming deprecations": shutdown date "Dec 11, 2026",
  notice date "Jun 11, 2026"). Their replacements (``gpt-6.1-sol``, ``gpt-6.1-terra``) are not catalogued.

Left without dates on purpose: ``claude-sonnet-4-5-20250929`` and ``claude-haiku-4-5-20251001`` (active on
Anthropic's page; its "not sooner than" dates are not retirement dates), ``gpt-4.1-mini`` (a 2027-01-14
shutdown is reported by third parties, but the stored copies of OpenAI's page do not show its row), and the
three Gemini 2.5 models (the stored copies of Google's deprecations page disagree with each other -- "earliest
June 2026", "June 17, 2026", and later third-party reports of other dates -- and Google calls them earliest
shutdown dates). Admins set or correct every date through ``PATCH /api/v1/admin/models/{id}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

import sqlalchemy as sa
from alembic import op

revision: str = "0008_model_lifecycle"
down_revision: str | Sequence[str] | None = "0007_merge_feature_branches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIFECYCLE_ORDER = "retires_on IS NULL OR deprecated_on IS NULL OR retires_on >= deprecated_on"
NOT_SELF = "replacement_model_id IS NULL OR replacement_model_id <> id"

# (seed number of 0005, deprecated_on, retires_on)
SEED_LIFECYCLE = [
    (1, date(2026, 11, 23), date(2027, 1, 22)),  # claude-opus-4-5-20251101
    (4, date(2026, 6, 11), date(2026, 12, 11)),  # gpt-5
    (5, date(2026, 6, 11), date(2026, 12, 11)),  # gpt-5-mini
]


def _seed_id(n: int) -> UUID:
    return UUID(f"0193a000-0000-7000-8000-{n:012x}")


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _is_sqlite():
        # SQLite cannot add constraints to a table, and rebuilding ai_models (batch mode) would run the ON
        # DELETE actions of the keys pointing at it (the connection enforces them): add each column with its
        # own constraints instead.
        op.execute("ALTER TABLE ai_models ADD COLUMN deprecated_on DATE")
        op.execute(
            "ALTER TABLE ai_models ADD COLUMN retires_on DATE "
            f"CONSTRAINT ck_ai_models_lifecycle_order CHECK ({LIFECYCLE_ORDER})"
        )
        op.execute(
            "ALTER TABLE ai_models ADD COLUMN replacement_model_id CHAR(32) "
            "CONSTRAINT fk_ai_models_replacement_model_id_ai_models REFERENCES ai_models (id) "
            f"CONSTRAINT ck_ai_models_replacement_not_self CHECK ({NOT_SELF})"
        )
    else:
        op.add_column("ai_models", sa.Column("deprecated_on", sa.Date(), nullable=True))
        op.add_column("ai_models", sa.Column("retires_on", sa.Date(), nullable=True))
        op.add_column("ai_models", sa.Column("replacement_model_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_ai_models_replacement_model_id_ai_models"),
            "ai_models",
            "ai_models",
            ["replacement_model_id"],
            ["id"],
        )
        op.create_check_constraint(op.f("ck_ai_models_lifecycle_order"), "ai_models", LIFECYCLE_ORDER)
        op.create_check_constraint(op.f("ck_ai_models_replacement_not_self"), "ai_models", NOT_SELF)

    models = sa.table(
        "ai_models",
        sa.column("id", sa.Uuid()),
        sa.column("deprecated_on", sa.Date()),
        sa.column("retires_on", sa.Date()),
    )
    for n, deprecated_on, retires_on in SEED_LIFECYCLE:
        op.execute(
            models.update()
            .where(models.c.id == _seed_id(n))
            .values(deprecated_on=deprecated_on, retires_on=retires_on)
        )


def downgrade() -> None:
    if _is_sqlite():
        # A column's own constraints go with it; retires_on's CHECK names deprecated_on, so it goes first.
        op.execute("ALTER TABLE ai_models DROP COLUMN replacement_model_id")
        op.execute("ALTER TABLE ai_models DROP COLUMN retires_on")
        op.execute("ALTER TABLE ai_models DROP COLUMN deprecated_on")
    else:
        op.drop_constraint(op.f("ck_ai_models_replacement_not_self"), "ai_models", type_="check")
        op.drop_constraint(op.f("ck_ai_models_lifecycle_order"), "ai_models", type_="check")
        op.drop_constraint(
            op.f("fk_ai_models_replacement_model_id_ai_models"), "ai_models", type_="foreignkey"
        )
        op.drop_column("ai_models", "replacement_model_id")
        op.drop_column("ai_models", "retires_on")
        op.drop_column("ai_models", "deprecated_on")
