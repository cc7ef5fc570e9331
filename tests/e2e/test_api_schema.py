"""Schemathesis explores every operation of the app's own OpenAPI document against a real server process.

A 5xx, or a response that contradicts the documented schema, fails the test.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    status_code_conformance,
)

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.sqlalchemy.database import create_sync_engine
from asynccoder.adapters.sqlalchemy.tables import users
from asynccoder.domain.identity import Role
from tests.support.builders import make_user
from tests.support.live_server import LiveServer, start_server

JWT_SECRET = "schemathesis-secret-" + "z" * 32
EXAMPLES_PER_OPERATION = 25
ENCRYPTION_KEYS = "k1:" + base64.urlsafe_b64encode(b"e" * 32).decode()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A server process and a bearer token for an admin and for a normal user."""
    data_dir = tmp_path_factory.mktemp("schemathesis") / "data"
    server = start_server(data_dir, {"JWT_SECRET": JWT_SECRET, "ENCRYPTION_KEYS": ENCRYPTION_KEYS})
    try:
        server.wait_ready()
        callers = {"admin": make_user(role=Role.ADMIN), "user": make_user(role=Role.USER)}
        engine = create_sync_engine(f"sqlite+aiosqlite:///{data_dir / 'asynccoder.db'}")
        with engine.begin() as conn:
            for user in callers.values():
                conn.execute(
                    users.insert().values(
                        id=user.id,
                        email=user.email,
                        display_name=user.display_name,
                        role=user.role.value,
                        status=user.status.value,
                        created_at=user.created_at,
                        updated_at=user.updated_at,
                    )
                )
        engine.dispose()
        tokens = JwtAccessTokenService(
            secret=JWT_SECRET, issuer="asynccoder", audience="asynccoder-api", ttl=timedelta(hours=1)
        )
        now = datetime.now(UTC)
        yield server, {name: tokens.issue(user, now=now).token for name, user in callers.items()}
    finally:
        server.stop()


# Admins reach every operation's body; a normal user and an anonymous caller mostly meet the guards, whose
# 401/403 answers must be documented too (fewer examples: most cases stop at the guard).
CALLERS = {"admin": EXAMPLES_PER_OPERATION, "user": 8, "anonymous": 4}


@pytest.mark.slow
@pytest.mark.parametrize("caller", list(CALLERS))
def test_every_operation_honours_its_schema_and_never_answers_5xx(
    live: tuple[LiveServer, dict[str, str]], caller: str
) -> None:
    server, tokens = live
    headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller in tokens else {}
    api = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=CALLERS[caller],
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(
                base_url=server.url,
                headers=headers,
                additional_checks=[status_code_conformance, content_type_conformance],
                # Domain rules (a real email address, a strong password) are stricter than a JSON schema can
                # say; a 400 for a schema-valid value the rules refuse is correct behaviour here.
                excluded_checks=[positive_data_acceptance],
            )

        try:
            exercise()
        except Exception as exc:  # collect every operation's failure, report them all
            failures[operation.label] = str(exc)[:2000]
    assert operations > 0
    assert failures == {}
