"""Identity settings: password hashing, login throttling, Clerk and GitHub OAuth variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynccoder.ioc.settings import SettingsError, load_settings
from tests.unit.test_settings import GOOD_KEY

PRODUCTION = {
    "ASYNCCODER_ENV": "production",
    "DATABASE_URL": "postgresql://app@db/app",
    "JWT_SECRET": "prod-jwt-secret-Q7f3Kx9mZ2vB8nL4wR6tY1",
    "ENCRYPTION_KEYS": GOOD_KEY,
}


def test_the_defaults_are_owasps_argon2id_minimum_and_sane_login_limits(tmp_path: Path) -> None:
    settings = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path)})
    assert (settings.password_hash_memory_kib, settings.password_hash_time_cost) == (19 * 1024, 2)
    assert settings.login_max_failures_per_account == 5
    assert settings.login_max_failures_per_client == 20
    assert settings.login_account_delay_cap_seconds == 60
    assert settings.github_oauth_scopes == ("repo", "read:user")


def test_identity_variables_are_read(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ASYNCCODER_DATA_DIR": str(tmp_path),
            "PASSWORD_HASH_MEMORY_KIB": "65536",
            "LOGIN_MAX_FAILURES_PER_CLIENT": "50",
            "LOGIN_ACCOUNT_DELAY_CAP_SECONDS": "30",
            "CLERK_JWKS_REFETCH_SECONDS": "30",
            "GITHUB_OAUTH_SCOPES": "repo, read:org",
        }
    )
    assert settings.password_hash_memory_kib == 65536
    assert settings.login_max_failures_per_client == 50
    assert settings.login_account_delay_cap_seconds == 30
    assert settings.clerk_jwks_refetch_seconds == 30
    assert settings.github_oauth_scopes == ("repo", "read:org")


@pytest.mark.parametrize("weak", [{"PASSWORD_HASH_MEMORY_KIB": "1024"}, {"PASSWORD_HASH_TIME_COST": "1"}])
def test_production_refuses_password_hashing_below_owasps_minimum(weak: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**PRODUCTION, **weak})
    assert any("PASSWORD_HASH" in p for p in info.value.problems)
