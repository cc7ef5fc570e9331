"""The migration seeds the same catalogue the in-memory adapters start with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.domain.billing import SEED_PACKAGES, SEED_PLANS
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


async def test_the_migration_seeds_free_pro_enterprise_and_three_packages(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            plans = await uow.billing_catalogue.list_plans()
            packages = await uow.billing_catalogue.list_packages()
    finally:
        await engine.dispose()
    assert plans == list(SEED_PLANS)
    assert packages == list(SEED_PACKAGES)
