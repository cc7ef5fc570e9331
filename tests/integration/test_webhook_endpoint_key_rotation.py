"""rotate-keys re-encrypts a webhook endpoint's signing secrets (current and previous) on SQLite and
PostgreSQL, and the rotated endpoint still signs with the same secrets."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.sqlalchemy.key_rotation import rotate_sealed_columns
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.domain.webhook_endpoints import WebhookEndpoint, new_secret, webhook_endpoint_secret_context
from tests.support.builders import T0, make_user, new_id

OLD = ("k1", b"\x01" * 32)
NEW = ("k2", b"\x02" * 32)


async def test_rotation_reencrypts_both_signing_secrets(engine: AsyncEngine) -> None:
    user, old_box = make_user(), AesGcmSecretBox([OLD])
    endpoint_id = new_id()
    context = webhook_endpoint_secret_context(endpoint_id, user.id)
    current, previous = new_secret(), new_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        user_id=user.id,
        url="https://hooks.example.com/in",
        event_types=(),
        enabled=True,
        sealed_secret=old_box.encrypt(current, context=context),
        created_at=T0,
        updated_at=T0,
        sealed_previous_secret=old_box.encrypt(previous, context=context),
        previous_secret_expires_at=T0 + timedelta(hours=24),
    )
    async with SqlAlchemyUnitOfWork(engine) as uow:
        await uow.users.add(user)
        await uow.webhook_endpoints.add(endpoint)
        other_id = new_id()  # never rotated: no previous secret
        other_secret = old_box.encrypt(
            new_secret(), context=webhook_endpoint_secret_context(other_id, user.id)
        )
        await uow.webhook_endpoints.add(
            dataclasses.replace(
                endpoint, id=other_id, sealed_secret=other_secret, sealed_previous_secret=None
            )
        )
        await uow.commit()

    counts = await rotate_sealed_columns(engine, AesGcmSecretBox([NEW, OLD]))

    by_column = {c.column: c for c in counts}
    current_count = by_column["webhook_endpoints.sealed_secret"]
    assert (current_count.rotated, current_count.unreadable) == (2, 0)
    assert by_column["webhook_endpoints.sealed_previous_secret"].rotated == 1
    only_new = AesGcmSecretBox([NEW])
    async with SqlAlchemyUnitOfWork(engine) as uow:
        stored = await uow.webhook_endpoints.get(endpoint_id)
    assert stored is not None
    assert stored.sealed_previous_secret is not None
    assert only_new.decrypt(stored.sealed_secret, context=context) == current
    assert only_new.decrypt(stored.sealed_previous_secret, context=context) == previous
