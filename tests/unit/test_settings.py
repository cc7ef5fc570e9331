"""Settings: defaults, validation messages, and production refusal."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from asynccoder.ioc.settings import SettingsError, load_settings

GOOD_KEY = "k1:" + base64.urlsafe_b64encode(b"k" * 32).decode()


def test_no_configuration_runs_in_development_on_a_sqlite_file_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path)})

    assert settings.environment == "development"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'asynccoder.db'}"
    assert settings.auto_migrate is True
    assert len(settings.jwt_secret) >= 32
    assert len(settings.encryption_keys) == 1


def test_development_secrets_are_generated_once_and_reused(tmp_path: Path) -> None:
    first = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path)})
    second = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path)})

    assert first.jwt_secret == second.jwt_secret
    assert first.encryption_keys == second.encryption_keys
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_secrets_and_says_each_missing_one() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ASYNCCODER_ENV": "production"})

    problems = caught.value.problems
    assert "DATABASE_URL is required in production" in problems
    assert "JWT_SECRET is required in production" in problems
    assert "ENCRYPTION_KEYS is required in production" in problems


@pytest.mark.parametrize("weak", ["changeme", "secret", "short-but-not-default"])
def test_production_refuses_a_default_or_short_jwt_secret(weak: str) -> None:
    env = {
        "ASYNCCODER_ENV": "production",
        "DATABASE_URL": "postgresql+psycopg://app@db/app",
        "JWT_SECRET": weak,
        "ENCRYPTION_KEYS": GOOD_KEY,
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert any(p.startswith("JWT_SECRET") for p in caught.value.problems)


def test_production_starts_with_real_secrets_and_logs_json() -> None:
    settings = load_settings(
        {
            "ASYNCCODER_ENV": "production",
            "DATABASE_URL": "postgresql://app@db/app",
            "JWT_SECRET": "prod-jwt-secret-Q7f3Kx9mZ2vB8nL4wR6tY1",
            "ENCRYPTION_KEYS": GOOD_KEY,
        }
    )
    assert settings.database_url == "postgresql+psycopg://app@db/app"
    assert settings.log_format == "json"
    assert settings.auto_migrate is False


def test_every_bad_value_gets_its_own_message() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "DATABASE_URL": "mysql://x",
                "MAX_REQUEST_BODY_BYTES": "lots",
                "GITHUB_API_URL": "ftp://github.example",
                "REDIS_URL": "http://cache",
                "ENCRYPTION_KEYS": "k1:not-base64!!",
                "LOG_LEVEL": "LOUD",
                "TRUSTED_PROXIES": "10.0.0.0/8,not-an-ip",
            }
        )
    names = sorted(p.split()[0] for p in caught.value.problems)
    assert names == sorted(
        [
            "DATABASE_URL",
            "MAX_REQUEST_BODY_BYTES",
            "GITHUB_API_URL",
            "REDIS_URL",
            "ENCRYPTION_KEYS",
            "LOG_LEVEL",
            "TRUSTED_PROXIES",
        ]
    )


def test_service_base_urls_are_settings_for_enterprise_hosts_and_gateways(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ASYNCCODER_DATA_DIR": str(tmp_path),
            "GITHUB_API_URL": "https://github.corp.example/api/v3/",
            "ANTHROPIC_BASE_URL": "https://llm-gateway.corp.example/anthropic",
            "STRIPE_API_BASE": "https://stripe-proxy.corp.example",
        }
    )
    assert settings.github_api_url == "https://github.corp.example/api/v3"
    assert settings.anthropic_base_url == "https://llm-gateway.corp.example/anthropic"
    assert settings.stripe_api_base == "https://stripe-proxy.corp.example"


def test_a_base_url_with_credentials_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"OPENAI_BASE_URL": "https://user:pass@proxy.example/v1"})
    assert caught.value.problems == ["OPENAI_BASE_URL must not contain credentials"]


def test_secrets_never_appear_in_the_settings_repr_or_in_error_messages(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ASYNCCODER_DATA_DIR": str(tmp_path),
            "STRIPE_SECRET_KEY": "sk_test_canary123",
            "JWT_SECRET": "j" * 40,
        }
    )
    assert "sk_test_canary123" not in repr(settings)
    assert "j" * 40 not in repr(settings)
    with pytest.raises(SettingsError) as caught:
        load_settings({"ENCRYPTION_KEYS": "k1:c2VjcmV0LWNhbmFyeQ"})
    assert "c2VjcmV0LWNhbmFyeQ" not in str(caught.value)


def test_encryption_keys_keep_their_order_and_ids(tmp_path: Path) -> None:
    second = "k2:" + base64.urlsafe_b64encode(b"z" * 32).decode().rstrip("=")
    settings = load_settings(
        {"ASYNCCODER_DATA_DIR": str(tmp_path), "ENCRYPTION_KEYS": f"{second},{GOOD_KEY}"}
    )
    assert [k.key_id for k in settings.encryption_keys] == ["k2", "k1"]
    assert settings.encryption_keys[0].material == b"z" * 32


def test_development_without_a_github_app_uses_local_repositories(tmp_path: Path) -> None:
    settings = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path)})
    assert settings.uses_local_code_host
    assert settings.repositories_root == tmp_path / "repositories"


def test_a_github_app_or_an_explicit_choice_selects_github(tmp_path: Path) -> None:
    with_app = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path), "GITHUB_CLIENT_ID": "Iv1.abc"})
    explicit = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path), "CODE_HOST": "github"})
    assert not with_app.uses_local_code_host
    assert not explicit.uses_local_code_host


def test_production_refuses_the_local_code_host() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ASYNCCODER_ENV": "production", "CODE_HOST": "local"})
    assert "CODE_HOST=local (local git repositories) is for development only" in caught.value.problems


def test_an_unknown_code_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path), "CODE_HOST": "gitlab"})


def test_production_refuses_a_sqlite_database_and_a_secret_of_one_repeated_character() -> None:
    env = {
        "ASYNCCODER_ENV": "production",
        "DATABASE_URL": "sqlite+aiosqlite:///data/asynccoder.db",
        "JWT_SECRET": "p" * 40,
        "ENCRYPTION_KEYS": GOOD_KEY,
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    problems = caught.value.problems
    assert any(p.startswith("DATABASE_URL must be PostgreSQL in production") for p in problems)
    assert any(p.startswith("JWT_SECRET must have at least 8 different characters") for p in problems)
    assert not any("p" * 40 in p for p in problems)


def test_a_value_that_fails_to_parse_does_not_hide_the_other_problems() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "ASYNCCODER_ENV": "production",
                "MAX_REQUEST_BODY_BYTES": "lots",
                "ENCRYPTION_KEYS": "k1:not-base64!!",
                "DATABASE_URL": "sqlite+aiosqlite:///data/asynccoder.db",
                "JWT_SECRET": "p" * 40,
                "PASSWORD_HASH_TIME_COST": "1",
            }
        )
    problems = caught.value.problems
    assert sorted(p.split()[0] for p in problems) == sorted(
        ["MAX_REQUEST_BODY_BYTES", "ENCRYPTION_KEYS", "DATABASE_URL", "JWT_SECRET", "PASSWORD_HASH_*"]
    ), problems
    assert not any("ENCRYPTION_KEYS is required" in p for p in problems), "unparsed is not also missing"


def test_in_development_a_bad_value_is_reported_before_any_secret_is_generated(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "ASYNCCODER_DATA_DIR": str(tmp_path),
                "ENCRYPTION_KEYS": "k1:not-base64!!",
                "JWT_SECRET": "short",
            }
        )
    assert [p.split()[0] for p in caught.value.problems] == ["ENCRYPTION_KEYS", "JWT_SECRET"]
    assert list(tmp_path.iterdir()) == []
