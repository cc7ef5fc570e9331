"""Stored provider keys are registered sealed columns whose context the registry rebuilds from the row."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.sqlalchemy.sealed_columns import SEALED_COLUMNS
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.ai.api_keys import (
    CreateApiKey,
    CreateApiKeyInput,
)
from asynccoder.domain.ai import Provider
from tests.support.ai import pong_models
from tests.support.builders import T0, make_user
from tests.support.system import ManualClock, SequentialIdGenerator

SECRET = "sk-proj-registry-check-0042"


async def test_the_registry_context_opens_every_stored_key_and_the_dump_has_no_plaintext(
    engine: AsyncEngine,
) -> None:
    box = AesGcmSecretBox([("k1", b"r" * 32)])
    user = make_user()
    async with SqlAlchemyUnitOfWork(engine) as uow:
        await uow.users.add(user)
        await uow.commit()
    create = CreateApiKey(
        SqlAlchemyUnitOfWork(engine),
        ManualClock(T0),
        SequentialIdGenerator(7000),
        box,
        pong_models(),
    )
    await create(CreateApiKeyInput(user.as_actor(), Provider.OPENAI, SECRET))
    [sealed] = [c for c in SEALED_COLUMNS if c.table.name == "api_keys"]
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(sealed.table))).all()
    assert len(rows) == 1
    row = rows[0]
    assert box.decrypt(getattr(row, sealed.sealed_column), context=sealed.context(row)) == SECRET
    assert SECRET not in repr(tuple(row))
