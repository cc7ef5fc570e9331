"""``ASYNCCODER_TASK_QUEUE``: the in-process engine by default, procrastinate on PostgreSQL only."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynccoder.ioc.settings import SettingsError, load_settings


def test_the_in_process_engine_is_the_default(tmp_path: Path) -> None:
    assert load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path)}).task_queue == "inprocess"


def test_procrastinate_can_be_chosen_on_postgresql(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ASYNCCODER_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://postgres@127.0.0.1/app",
            "ASYNCCODER_TASK_QUEUE": "Procrastinate",
        }
    )

    assert settings.task_queue == "procrastinate"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ASYNCCODER_TASK_QUEUE": "celery"}, "ASYNCCODER_TASK_QUEUE must be inprocess or procrastinate"),
        (
            {"ASYNCCODER_TASK_QUEUE": "procrastinate"},
            "ASYNCCODER_TASK_QUEUE=procrastinate needs a PostgreSQL DATABASE_URL (on SQLite use inprocess)",
        ),
        (
            {"ASYNCCODER_TASK_QUEUE": "procrastinate", "DATABASE_URL": "sqlite:///elsewhere.db"},
            "ASYNCCODER_TASK_QUEUE=procrastinate needs a PostgreSQL DATABASE_URL (on SQLite use inprocess)",
        ),
    ],
)
def test_impossible_queue_settings_are_refused(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path), **environ})

    assert message in refused.value.problems
