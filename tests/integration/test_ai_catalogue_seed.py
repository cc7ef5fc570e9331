"""Migration 0005 seeds the catalogue with priced models of every provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_sync_engine
from tests.support.services import scratch_postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}"
        migrations_runner.upgrade(url)
        yield url
    else:
        with scratch_postgres_database("asynccoder_seed") as url:
            migrations_runner.upgrade(url)
            yield url


def test_every_seeded_model_has_a_price_and_each_provider_a_model_per_tier(migrated: str) -> None:
    engine = create_sync_engine(migrated)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT m.provider, m.tier, p.input_micro_usd_per_mtok, p.output_micro_usd_per_mtok "
                    "FROM ai_models m JOIN ai_model_prices p ON p.model_id = m.id"
                )
            ).all()
            key_providers = conn.execute(sa.text("SELECT provider FROM api_key_providers")).scalars().all()
    finally:
        engine.dispose()
    assert {(r.provider, r.tier) for r in rows} == {
        (p, t) for p in ("anthropic", "openai", "gemini") for t in ("economy", "standard", "premium")
    }
    assert all(r.output_micro_usd_per_mtok > r.input_micro_usd_per_mtok > 0 for r in rows)
    assert set(key_providers) == {"anthropic", "openai", "gemini"}
