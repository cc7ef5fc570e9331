"""Building the app for end-to-end tests."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from asynccoder.ioc.settings import EncryptionKey, Settings

TEST_ENCRYPTION_KEY = EncryptionKey("k1", base64.b64decode("q" * 43 + "="))


def make_settings(**overrides: Any) -> Settings:
    base = Settings(
        environment="test",
        database_url="sqlite+aiosqlite:///:memory:",
        auto_migrate=False,
        jwt_secret="test-jwt-secret-" + "x" * 32,
        encryption_keys=(TEST_ENCRYPTION_KEY,),
        log_level="WARNING",
        embedded_worker=False,  # tests that want one start it explicitly
        rate_limit_enabled=False,  # tests of the limits switch them on
    )
    return replace(base, **overrides)
