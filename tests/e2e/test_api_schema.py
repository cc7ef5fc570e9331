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
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    data_dir = tmp_path_factory.mktemp("schemathesis") / "data"
    server = start_server(data_dir, {"JWT_SECRET": JWT_SECRET, "ENCRYPTION_KEYS": ENCRYPTION_KEYS})
    try:
        server.wait_ready()
        user = make_user(role=Role.ADMIN)
        engine = create_sync_engine(f"sqlite+aiosqlite:///{data_dir / 'asynccoder.db'}")
        with engine.begin() as conn:
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
        token = tokens.issue(user, now=datetime.now(UTC)).token
        yield server, token
    finally:
        server.stop()


@pytest.mark.slow
def test_every_operation_honours_its_schema_and_never_answers_5xx(live: tuple[LiveServer, str]) -> None:
    server, token = live
    api = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(
                base_url=server.url,
                headers={"Authorization": f"Bearer {token}"},
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
