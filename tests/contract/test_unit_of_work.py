"""The UnitOfWork and UserRepository contract, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from asynccoder.domain.errors import Conflict
from asynccoder.domain.identity import AccountStanding, Role
from tests.contract.conftest import UowFactory
from tests.support.builders import T0, make_user


async def test_committed_changes_are_visible_to_the_next_unit_of_work(uow_factory: UowFactory) -> None:
    user = make_user(role=Role.ADMIN, password_hash="$argon2id$stub", clerk_user_id="user_2abc")
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) == user
        assert await uow.users.get_by_email(user.email) == user
        assert await uow.users.get_by_clerk_id("user_2abc") == user


async def test_leaving_without_commit_discards_changes(uow_factory: UowFactory) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) is None


async def test_an_exception_rolls_back_the_whole_block(uow_factory: UowFactory) -> None:
    first, second = make_user(), make_user()
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await uow.users.add(first)
            await uow.users.add(second)
            raise RuntimeError("crash between writes")

    async with uow_factory() as uow:
        assert await uow.users.get(first.id) is None
        assert await uow.users.get(second.id) is None


async def test_changes_after_the_last_commit_are_discarded(uow_factory: UowFactory) -> None:
    kept, dropped = make_user(), make_user()
    async with uow_factory() as uow:
        await uow.users.add(kept)
        await uow.commit()
        await uow.users.add(dropped)

    async with uow_factory() as uow:
        assert await uow.users.get(kept.id) == kept
        assert await uow.users.get(dropped.id) is None


async def test_a_second_user_with_the_same_email_is_a_conflict(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.users.add(make_user(email="same@example.com"))
        await uow.commit()

    with pytest.raises(Conflict) as caught:
        async with uow_factory() as uow:
            await uow.users.add(make_user(email="same@example.com"))
            await uow.commit()
    assert caught.value.code == "email_taken"


async def test_update_replaces_the_stored_user(uow_factory: UowFactory) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    changed = dataclasses.replace(user, display_name="Grace Hopper", github_login="grace", updated_at=T0)
    async with uow_factory() as uow:
        await uow.users.update(changed)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) == changed


async def test_timestamps_come_back_timezone_aware_in_utc(uow_factory: UowFactory) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.users.get(user.id)
    assert stored is not None
    assert stored.created_at.utcoffset() is not None
    assert stored.created_at == T0


async def test_a_unit_of_work_can_be_entered_again_after_it_exited(uow_factory: UowFactory) -> None:
    first, second = make_user(), make_user()
    uow = uow_factory()
    async with uow:
        await uow.users.add(first)
        await uow.commit()
    async with uow:
        await uow.users.add(second)
        await uow.commit()

    async with uow_factory() as check:
        assert await check.users.get(first.id) == first
        assert await check.users.get(second.id) == second


async def test_entering_an_active_unit_of_work_again_is_refused(uow_factory: UowFactory) -> None:
    uow = uow_factory()
    async with uow:
        with pytest.raises(RuntimeError):
            await uow.__aenter__()


async def test_a_read_only_block_sees_committed_data_and_refuses_to_commit(uow_factory: UowFactory) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    uow = uow_factory()
    with pytest.raises(RuntimeError):
        async with uow.read_only():
            assert await uow.users.get(user.id) == user
            await uow.commit()
    await uow.release()


async def test_a_write_block_after_read_only_blocks_commits_on_the_same_unit_of_work(
    uow_factory: UowFactory,
) -> None:
    user = make_user()
    uow = uow_factory()
    async with uow.read_only():
        assert await uow.users.get(user.id) is None
    async with uow.read_only():
        assert await uow.users.get(user.id) is None
    async with uow:
        await uow.users.add(user)
        await uow.commit()
    async with uow.read_only():
        assert await uow.users.get(user.id) == user
    await uow.release()

    async with uow_factory() as fresh:
        assert await fresh.users.get(user.id) == user


async def test_the_account_standing_is_what_authentication_needs_of_the_user(uow_factory: UowFactory) -> None:
    user = make_user(role=Role.ADMIN, password_hash="$argon2id$stub")
    revoked = dataclasses.replace(user.with_credentials_revoked(T0), id=make_user().id, email="r@example.com")
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.users.add(revoked)
        await uow.commit()

    reader = uow_factory()
    async with reader.read_only() as uow:
        assert await uow.users.get_standing(user.id) == user.standing
        assert await uow.users.get_standing(revoked.id) == revoked.standing
        assert await uow.users.get_standing(make_user().id) is None
    await reader.release()
    assert revoked.standing.credentials_valid_after is not None
    assert user.standing == AccountStanding(user.id, Role.ADMIN, user.status, None)
