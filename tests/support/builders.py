"""Builders for domain objects: sensible defaults, override what the test is about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from asynccoder.domain.identity import (
    Role,
    User,
    UserStatus,
)
from tests.support.system import SequentialIdGenerator

_ids = SequentialIdGenerator(start=1_000_000)
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def new_id() -> UUID:
    return _ids.new_id()


def make_user(**overrides: Any) -> User:
    user_id = overrides.pop("id", None) or new_id()
    values: dict[str, Any] = {
        "id": user_id,
        "email": f"user-{user_id.hex[:12]}@example.com",
        "display_name": "Ada Lovelace",
        "role": Role.USER,
        "status": UserStatus.ACTIVE,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return User(**values)
