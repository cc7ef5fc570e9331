"""Settings of metrics, tracing and error tracking: off by default, validated without echoing secrets."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from asynccoder.ioc.settings import SettingsError, load_settings

KEY = "k1:" + base64.urlsafe_b64encode(b"\x11" * 32).decode()
PRODUCTION = {
    "ASYNCCODER_ENV": "production",
    "DATABASE_URL": "postgresql+psycopg://app@db/app",
    "JWT_SECRET": "a-real-random-jwt-secret-0123456789abcdef",
    "ENCRYPTION_KEYS": KEY,
}
DSN = "https://f00dfeed5ecret@errors.example.com/42"


def test_everything_is_off_by_default_and_metrics_are_open_outside_production(tmp_path: Path) -> None:
    settings = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path)})
    assert (settings.otlp_endpoint, settings.sentry_dsn, settings.metrics_token) == (None, None, None)
    assert settings.serves_metrics


def test_production_serves_metrics_only_with_a_token() -> None:
    assert not load_settings(PRODUCTION).serves_metrics
    token = "mtk-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    settings = load_settings({**PRODUCTION, "ASYNCCODER_METRICS_TOKEN": token})
    assert settings.serves_metrics
    assert token not in repr(settings)


@pytest.mark.parametrize("weak", ["short", "x" * 40])
def test_production_refuses_a_weak_metrics_token(weak: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**PRODUCTION, "ASYNCCODER_METRICS_TOKEN": weak})
    assert any(p.startswith("ASYNCCODER_METRICS_TOKEN") for p in caught.value.problems)
    assert weak not in str(caught.value)


def test_tracing_and_error_tracking_are_read_and_the_dsn_is_never_shown(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ASYNCCODER_DATA_DIR": str(tmp_path),
            "OTLP_ENDPOINT": "http://collector:4318/v1/traces",
            "OTEL_SERVICE_NAME": "asynccoder-api",
            "SENTRY_DSN": DSN,
        }
    )
    assert settings.otlp_endpoint == "http://collector:4318/v1/traces"
    assert settings.otel_service_name == "asynccoder-api"
    assert settings.sentry_dsn == DSN
    assert "f00dfeed5ecret" not in repr(settings)


@pytest.mark.parametrize(
    "bad", ["not a url", "ftp://key@host/1", "https://errors.example.com/42", "https://key@host/project"]
)
def test_a_malformed_dsn_is_refused_without_repeating_it(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path), "SENTRY_DSN": bad})
    assert any(p.startswith("SENTRY_DSN") for p in caught.value.problems)
    assert bad not in str(caught.value)
