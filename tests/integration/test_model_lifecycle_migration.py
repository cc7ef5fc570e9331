"""Migration 0008: lifecycle columns and constraints, provider-published seed dates, a lossless downgrade."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.ai_tables import ai_models
from asynccoder.adapters.sqlalchemy.database import create_sync_engine
from tests.support.services import scratch_postgres_database

OPUS_45 = "0193a000-0000-7000-8000-000000000001"


@pytest.fixture(params=["sqlite", "postgres"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'lifecycle.db'}"
        migrations_runner.upgrade(url)
        yield url
    else:
        with scratch_postgres_database("asynccoder_lifecycle") as url:
            migrations_runner.upgrade(url)
            yield url


def _rows(url: str, query: str) -> list[sa.Row[tuple[object, ...]]]:
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(query)))
    finally:
        engine.dispose()


def _as_date(value: object) -> date | None:
    # SQLite hands DATE columns back as text through a textual query.
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def test_only_models_with_published_dates_are_seeded_with_them(migrated: str) -> None:
    rows = _rows(
        migrated, "SELECT model_name, deprecated_on, retires_on, replacement_model_id FROM ai_models"
    )
    lifecycle = {r.model_name: (_as_date(r.deprecated_on), _as_date(r.retires_on)) for r in rows}
    assert lifecycle == {
        "claude-opus-4-5-20251101": (date(2026, 11, 23), date(2027, 1, 22)),
        "gpt-5": (date(2026, 6, 11), date(2026, 12, 11)),
        "gpt-5-mini": (date(2026, 6, 11), date(2026, 12, 11)),
        "claude-sonnet-4-5-20250929": (None, None),
        "claude-haiku-4-5-20251001": (None, None),
        "gpt-4.1-mini": (None, None),
        "gemini-2.5-pro": (None, None),
        "gemini-2.5-flash": (None, None),
        "gemini-2.5-flash-lite": (None, None),
    }
    assert {r.replacement_model_id for r in rows} == {None}


@pytest.mark.parametrize(
    "values",
    [
        {"deprecated_on": date(2031, 6, 2), "retires_on": date(2031, 6, 1)},
        {"replacement_model_id": ai_models.c.id},
        {"replacement_model_id": UUID("0193a000-0000-7000-8000-0000000000ff")},  # no such model
    ],
    ids=["retires_before_deprecation", "replaces_itself", "unknown_replacement"],
)
def test_the_database_refuses_an_inconsistent_lifecycle(migrated: str, values: dict[str, object]) -> None:
    engine = create_sync_engine(migrated)
    try:
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(ai_models.update().where(ai_models.c.id == UUID(OPUS_45)).values(**values))
    finally:
        engine.dispose()


def test_downgrading_drops_the_columns_and_keeps_every_model_and_price(migrated: str) -> None:
    prices_before = _rows(migrated, "SELECT COUNT(*) AS n FROM ai_model_prices")[0].n
    migrations_runner.downgrade(migrated, "0007_merge_feature_branches")
    engine = create_sync_engine(migrated)
    try:
        columns = {c["name"] for c in sa.inspect(engine).get_columns("ai_models")}
    finally:
        engine.dispose()
    assert not columns & {"deprecated_on", "retires_on", "replacement_model_id"}
    assert _rows(migrated, "SELECT COUNT(*) AS n FROM ai_models")[0].n == 9
    assert _rows(migrated, "SELECT COUNT(*) AS n FROM ai_model_prices")[0].n == prices_before == 9
    migrations_runner.upgrade(migrated)
    [opus] = _rows(migrated, "SELECT retires_on FROM ai_models WHERE model_name = 'claude-opus-4-5-20251101'")
    assert _as_date(opus.retires_on) == date(2027, 1, 22)
