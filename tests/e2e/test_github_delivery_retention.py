"""GitHub delivery rows are kept ``GITHUB_DELIVERY_RETENTION_DAYS``: pruned by the CLI and by the worker."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.ioc.core import make_container
from asynccoder.ioc.settings import SettingsError, load_settings
from asynccoder.ioc.tasks import make_task_worker
from tests.e2e.test_cli import run_cli
from tests.support.app import make_settings


async def _seed(url: str) -> None:
    now = SystemClock().now()
    engine = create_engine(url)
    try:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            await uow.github_deliveries.record("old", "push", now - timedelta(days=45))
            await uow.github_deliveries.record("recent", "push", now - timedelta(days=2))
            await uow.commit()
    finally:
        await engine.dispose()


async def _known(url: str) -> list[bool]:
    """Whether each delivery id is still known (recording it again is refused)."""
    engine = create_engine(url)
    try:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            fresh = [
                await uow.github_deliveries.record(d, "push", SystemClock().now()) for d in ("old", "recent")
            ]
        return [not f for f in fresh]  # rolled back: nothing written
    finally:
        await engine.dispose()


async def test_the_cli_prunes_deliveries_older_than_the_retention_period(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'deliveries.db'}"
    migrations_runner.upgrade(url)
    await _seed(url)

    result = run_cli(
        "prune-github-deliveries",
        env={
            "DATABASE_URL": url,
            "ASYNCCODER_DATA_DIR": str(tmp_path),
            "GITHUB_DELIVERY_RETENTION_DAYS": "30",
        },
    )

    assert result.returncode == 0, result.stderr
    assert "Deleted 1 GitHub delivery record(s) older than 30 days." in result.stdout
    assert await _known(url) == [False, True]


async def test_the_workers_maintenance_prunes_old_deliveries(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"
    migrations_runner.upgrade(url)
    await _seed(url)
    settings = dataclasses.replace(make_settings(database_url=url), github_delivery_retention_days=30)
    container = make_container(settings)
    try:
        worker = await make_task_worker(container, settings)
        await worker.maintain()
    finally:
        await container.close()
    assert await _known(url) == [False, True]


@pytest.mark.parametrize("days", ["3", "0", "month"])
def test_a_retention_shorter_than_a_week_is_refused(days: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"GITHUB_DELIVERY_RETENTION_DAYS": days})
    assert [p.split()[0] for p in caught.value.problems] == ["GITHUB_DELIVERY_RETENTION_DAYS"]
