"""rotate-keys: every sealed column re-encrypted under the newest key, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.sqlalchemy.key_rotation import rotate_sealed_columns
from asynccoder.adapters.sqlalchemy.tables import github_connections
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.ports.system import SecretUnreadable
from asynccoder.domain.code_hosting import (
    GitHubConnection,
    github_connection_context,
)
from tests.support.builders import T0, make_user

OLD = ("k1", b"\x01" * 32)
NEW = ("k2", b"\x02" * 32)


async def _connect(engine: AsyncEngine, box: AesGcmSecretBox, token: str) -> GitHubConnection:
    user = make_user()
    connection = GitHubConnection(
        user_id=user.id,
        github_user_id=1,
        login="octocat",
        sealed_token=box.encrypt(token, context=github_connection_context(user.id)),
        scopes=("repo",),
        created_at=T0,
        updated_at=T0,
    )
    async with SqlAlchemyUnitOfWork(engine) as uow:
        await uow.users.add(user)
        await uow.github_connections.save(connection)
        await uow.commit()
    return connection


async def test_rotation_reencrypts_under_the_newest_key_so_the_old_key_can_go(engine: AsyncEngine) -> None:
    old_box = AesGcmSecretBox([OLD])
    connections = [await _connect(engine, old_box, f"gho_secret_{n}") for n in range(3)]

    counts = await rotate_sealed_columns(engine, AesGcmSecretBox([NEW, OLD]), batch_size=2)

    [count] = [c for c in counts if c.column == "github_connections.sealed_token"]
    assert (count.rotated, count.current, count.unreadable) == (3, 0, 0)
    only_new = AesGcmSecretBox([NEW])
    async with SqlAlchemyUnitOfWork(engine) as uow:
        for n, connection in enumerate(connections):
            stored = await uow.github_connections.get(connection.user_id)
            assert stored is not None
            assert stored.sealed_token.startswith("v1.k2.")
            assert only_new.decrypt(
                stored.sealed_token, context=github_connection_context(connection.user_id)
            ) == (f"gho_secret_{n}")


async def test_running_it_again_changes_nothing(engine: AsyncEngine) -> None:
    await _connect(engine, AesGcmSecretBox([OLD]), "gho_x")
    box = AesGcmSecretBox([NEW, OLD])
    await rotate_sealed_columns(engine, box)
    [count] = [
        c for c in await rotate_sealed_columns(engine, box) if c.column == "github_connections.sealed_token"
    ]
    assert (count.rotated, count.current) == (0, 1)


async def test_a_value_that_cannot_be_opened_is_counted_and_left_alone(engine: AsyncEngine) -> None:
    connection = await _connect(engine, AesGcmSecretBox([("gone", b"\x03" * 32)]), "gho_x")
    [count] = [
        c
        for c in await rotate_sealed_columns(engine, AesGcmSecretBox([NEW, OLD]))
        if c.column == "github_connections.sealed_token"
    ]
    assert count.unreadable == 1
    async with SqlAlchemyUnitOfWork(engine) as uow:
        stored = await uow.github_connections.get(connection.user_id)
    assert stored is not None
    assert stored.sealed_token == connection.sealed_token


async def test_a_ciphertext_copied_to_another_users_row_does_not_open(engine: AsyncEngine) -> None:
    box = AesGcmSecretBox([NEW, OLD])
    alice = await _connect(engine, AesGcmSecretBox([OLD]), "gho_alice")
    bob = await _connect(engine, AesGcmSecretBox([OLD]), "gho_bob")
    async with engine.begin() as conn:
        await conn.execute(
            github_connections.update()
            .where(github_connections.c.user_id == bob.user_id)
            .values(sealed_token=alice.sealed_token)
        )
    with pytest.raises(SecretUnreadable):
        box.decrypt(alice.sealed_token, context=github_connection_context(bob.user_id))
    [count] = [
        c for c in await rotate_sealed_columns(engine, box) if c.column == "github_connections.sealed_token"
    ]
    assert (count.rotated, count.unreadable) == (1, 1)
