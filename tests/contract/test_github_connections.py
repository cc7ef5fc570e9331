"""GitHubConnectionRepository contract on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from asynccoder.domain.code_hosting import GitHubConnection
from tests.contract.conftest import UowFactory
from tests.support.builders import T0, make_user


def make_connection(user_id, **overrides) -> GitHubConnection:  # type: ignore[no-untyped-def]
    values = {
        "user_id": user_id,
        "github_user_id": 583231,
        "login": "octocat",
        "sealed_token": "v1.k1.sealed",
        "scopes": ("repo", "read:user"),
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return GitHubConnection(**values)


async def test_a_saved_connection_is_read_back(uow_factory: UowFactory) -> None:
    user = make_user()
    connection = make_connection(user.id)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.github_connections.save(connection)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.github_connections.get(user.id) == connection


async def test_saving_again_replaces_the_connection_but_keeps_its_creation_time(
    uow_factory: UowFactory,
) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.github_connections.save(make_connection(user.id))
        await uow.commit()
    later = T0 + timedelta(days=1)
    replacement = make_connection(
        user.id, login="hubot", sealed_token="v1.k2.x", created_at=later, updated_at=later
    )
    async with uow_factory() as uow:
        await uow.github_connections.save(replacement)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.github_connections.get(user.id)
    assert stored == dataclasses.replace(replacement, created_at=T0)


async def test_delete_reports_whether_there_was_a_connection(uow_factory: UowFactory) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.github_connections.save(make_connection(user.id))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.github_connections.delete(user.id) is True
        assert await uow.github_connections.delete(user.id) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.github_connections.get(user.id) is None
