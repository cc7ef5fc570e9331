"""Settings of live task events: the notification backend follows the deployment unless chosen."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynccoder.ioc.settings import SettingsError, load_settings


def test_without_redis_events_stay_in_process_with_the_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path)})

    assert settings.task_events_transport == "memory"
    assert settings.event_streams_per_user == 5
    assert settings.event_stream_heartbeat_seconds == 15


def test_with_redis_events_go_through_redis(tmp_path: Path) -> None:
    settings = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0"})

    assert settings.task_events_transport == "redis"


def test_postgres_notifications_can_be_chosen_on_a_postgres_database(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ASYNCCODER_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://postgres@127.0.0.1/app",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "TASK_EVENTS_BACKEND": "postgres",
            "EVENT_STREAMS_PER_USER": "2",
            "EVENT_STREAM_HEARTBEAT_SECONDS": "5",
            "TASK_EVENTS_COALESCE_MS": "20",
        }
    )

    assert settings.task_events_transport == "postgres"
    assert (settings.event_streams_per_user, settings.event_stream_heartbeat_seconds) == (2, 5)
    assert settings.task_events_coalesce_ms == 20


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TASK_EVENTS_BACKEND": "kafka"}, "TASK_EVENTS_BACKEND must be memory, redis or postgres"),
        ({"TASK_EVENTS_BACKEND": "redis"}, "TASK_EVENTS_BACKEND=redis needs REDIS_URL"),
        ({"TASK_EVENTS_BACKEND": "postgres"}, "TASK_EVENTS_BACKEND=postgres needs a PostgreSQL DATABASE_URL"),
        ({"EVENT_STREAMS_PER_USER": "0"}, "EVENT_STREAMS_PER_USER must be greater than zero"),
    ],
)
def test_impossible_event_settings_are_refused(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path), **environ})

    assert message in refused.value.problems
