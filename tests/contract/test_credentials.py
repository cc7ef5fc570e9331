"""Refresh tokens, personal access tokens, OAuth states and user lists on memory, SQLite, PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from uuid import UUID

import pytest

from asynccoder.domain.errors import Conflict
from asynccoder.domain.identity import (
    OAuthState,
    PersonalAccessToken,
    RefreshToken,
    User,
)
from tests.contract.conftest import UowFactory
from tests.support.builders import T0, make_user, new_id


async def _user(uow_factory: UowFactory) -> User:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


def _refresh(user_id: UUID, family_id: UUID, digest: str) -> RefreshToken:
    return RefreshToken(
        id=new_id(),
        family_id=family_id,
        user_id=user_id,
        token_hash=digest,
        created_at=T0,
        expires_at=T0 + timedelta(days=14),
        family_expires_at=T0 + timedelta(days=60),
    )


async def test_refresh_tokens_are_found_by_digest(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    token = _refresh(user.id, new_id(), "a" * 64)
    async with uow_factory() as uow:
        await uow.refresh_tokens.add(token)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.get_by_hash("a" * 64) == token
        assert await uow.refresh_tokens.get_by_hash("b" * 64) is None


async def test_a_refresh_token_can_be_marked_used_once(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    token = _refresh(user.id, new_id(), "c" * 64)
    async with uow_factory() as uow:
        await uow.refresh_tokens.add(token)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.mark_used(token.id, now=T0) is True
        assert await uow.refresh_tokens.mark_used(token.id, now=T0) is False
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.refresh_tokens.get_by_hash("c" * 64)
    assert stored is not None
    assert stored.used_at == T0


async def test_revoking_a_family_revokes_every_member_and_only_them(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    family, other = new_id(), new_id()
    tokens = [
        _refresh(user.id, family, "1" * 64),
        _refresh(user.id, family, "2" * 64),
        _refresh(user.id, other, "3" * 64),
    ]
    async with uow_factory() as uow:
        for token in tokens:
            await uow.refresh_tokens.add(token)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.revoke_family(family, now=T0) == 2
        assert await uow.refresh_tokens.revoke_family(family, now=T0) == 0
        assert await uow.refresh_tokens.mark_used(tokens[0].id, now=T0) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.refresh_tokens.get_by_hash("3" * 64)).revoked_at is None  # type: ignore[union-attr]
        assert (await uow.refresh_tokens.get_by_hash("2" * 64)).revoked_at == T0  # type: ignore[union-attr]


async def test_a_duplicate_refresh_digest_is_a_conflict(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    async with uow_factory() as uow:
        await uow.refresh_tokens.add(_refresh(user.id, new_id(), "d" * 64))
        with pytest.raises(Conflict):
            await uow.refresh_tokens.add(_refresh(user.id, new_id(), "d" * 64))


def _pat(user_id: UUID, digest: str, **fields: object) -> PersonalAccessToken:
    values: dict[str, object] = {
        "id": new_id(),
        "user_id": user_id,
        "name": "ci",
        "prefix": "acp_abcdefgh",
        "token_hash": digest,
        "created_at": T0,
    }
    values.update(fields)
    return PersonalAccessToken(**values)  # type: ignore[arg-type]


async def test_personal_access_tokens_list_newest_first_per_user_with_a_cursor(
    uow_factory: UowFactory,
) -> None:
    alice, bob = await _user(uow_factory), await _user(uow_factory)
    mine = [_pat(alice.id, f"{n}" * 64) for n in range(4)]
    async with uow_factory() as uow:
        for token in mine:
            await uow.personal_access_tokens.add(token)
        await uow.personal_access_tokens.add(_pat(bob.id, "f" * 64))
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.personal_access_tokens.list_for_user(alice.id, limit=2, before=None)
        rest = await uow.personal_access_tokens.list_for_user(alice.id, limit=10, before=first[-1].id)
    assert [t.id for t in first + rest] == [t.id for t in reversed(mine)]


async def test_a_personal_access_token_is_revoked_only_by_its_owner(uow_factory: UowFactory) -> None:
    alice, bob = await _user(uow_factory), await _user(uow_factory)
    token = _pat(alice.id, "e" * 64)
    async with uow_factory() as uow:
        await uow.personal_access_tokens.add(token)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.personal_access_tokens.revoke(token.id, user_id=bob.id, now=T0) is False
        assert await uow.personal_access_tokens.revoke(new_id(), user_id=alice.id, now=T0) is False
        assert await uow.personal_access_tokens.revoke(token.id, user_id=alice.id, now=T0) is True
        assert await uow.personal_access_tokens.revoke(token.id, user_id=alice.id, now=T0) is True
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.personal_access_tokens.get_by_hash("e" * 64)).revoked_at == T0  # type: ignore[union-attr]


async def test_touch_records_the_last_use_at_most_once_per_resolution(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    token = _pat(user.id, "9" * 64)
    later = T0 + timedelta(seconds=30)
    async with uow_factory() as uow:
        await uow.personal_access_tokens.add(token)
        await uow.personal_access_tokens.touch(token.id, now=T0, not_since=T0 - timedelta(minutes=1))
        await uow.personal_access_tokens.touch(token.id, now=later, not_since=later - timedelta(minutes=1))
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.personal_access_tokens.get_by_hash("9" * 64)).last_used_at == T0  # type: ignore[union-attr]


async def test_an_oauth_state_is_consumed_once_and_not_after_expiry(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    fresh = OAuthState(new_id(), user.id, "s" * 64, "v" * 64, T0, T0 + timedelta(minutes=10))
    stale = OAuthState(new_id(), user.id, "t" * 64, "v" * 64, T0, T0 + timedelta(minutes=10))
    async with uow_factory() as uow:
        await uow.oauth_states.add(fresh)
        await uow.oauth_states.add(stale)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.oauth_states.get_by_hash("s" * 64) == fresh
        assert await uow.oauth_states.consume(fresh.id, now=T0) is True
        assert await uow.oauth_states.consume(fresh.id, now=T0) is False
        assert await uow.oauth_states.consume(stale.id, now=T0 + timedelta(minutes=10)) is False
        await uow.commit()


async def test_users_list_newest_first_with_a_cursor(uow_factory: UowFactory) -> None:
    users = [await _user(uow_factory) for _ in range(3)]
    async with uow_factory() as uow:
        first = await uow.users.list_page(limit=2, before=None)
        rest = await uow.users.list_page(limit=2, before=first[-1].id)
    assert [u.id for u in first + rest] == [u.id for u in reversed(users)]


async def test_dead_refresh_families_and_stale_states_are_deleted(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    dead = _refresh(user.id, new_id(), "8" * 64)  # family ends at T0 + 60 days
    alive = dataclasses.replace(
        _refresh(user.id, new_id(), "7" * 64), family_expires_at=T0 + timedelta(days=90)
    )
    used = OAuthState(new_id(), user.id, "u" * 64, "v" * 64, T0, T0 + timedelta(minutes=10), used_at=T0)
    pending = OAuthState(new_id(), user.id, "p" * 64, "v" * 64, T0, T0 + timedelta(days=90))
    async with uow_factory() as uow:
        for token in (dead, alive):
            await uow.refresh_tokens.add(token)
        for state in (used, pending):
            await uow.oauth_states.add(state)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.delete_dead(user.id, now=T0 + timedelta(days=60)) == 1
        assert await uow.oauth_states.delete_stale(user.id, now=T0) == 1
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.get_by_hash("7" * 64) == alive
        assert await uow.refresh_tokens.get_by_hash("8" * 64) is None
        assert await uow.oauth_states.get_by_hash("p" * 64) == pending
        assert await uow.oauth_states.get_by_hash("u" * 64) is None


async def test_live_sessions_are_listed_newest_first_from_their_live_link_only(
    uow_factory: UowFactory,
) -> None:
    alice, bob = await _user(uow_factory), await _user(uow_factory)
    old_family, new_family, dead_family = new_id(), new_id(), new_id()
    used = dataclasses.replace(
        _refresh(alice.id, old_family, "a1" * 32), used_at=T0 + timedelta(hours=1), client_ip="192.0.2.1"
    )
    live = dataclasses.replace(
        _refresh(alice.id, old_family, "a2" * 32),
        created_at=T0 + timedelta(hours=1),
        session_started_at=T0,
        client_ip="192.0.2.2",
        user_agent="phone/2.0",
    )
    newer = dataclasses.replace(_refresh(alice.id, new_family, "b1" * 32), created_at=T0 + timedelta(hours=2))
    revoked = dataclasses.replace(_refresh(alice.id, dead_family, "c1" * 32), revoked_at=T0)
    async with uow_factory() as uow:
        for token in (used, live, newer, revoked, _refresh(bob.id, new_id(), "d1" * 32)):
            await uow.refresh_tokens.add(token)
        await uow.commit()
    now = T0 + timedelta(hours=3)
    async with uow_factory() as uow:
        sessions = await uow.refresh_tokens.list_sessions(alice.id, now=now, limit=10, before=None)
        first_page = await uow.refresh_tokens.list_sessions(alice.id, now=now, limit=1, before=None)
        second_page = await uow.refresh_tokens.list_sessions(alice.id, now=now, limit=10, before=new_family)
        later = await uow.refresh_tokens.list_sessions(
            alice.id, now=T0 + timedelta(days=61), limit=10, before=None
        )
    assert [s.id for s in sessions] == [new_family, old_family]
    assert [s.id for s in first_page] == [new_family]
    [phone] = second_page
    assert (phone.started_at, phone.last_used_at) == (T0, T0 + timedelta(hours=1))
    assert (phone.client_ip, phone.user_agent) == ("192.0.2.2", "phone/2.0")
    assert later == []  # past the families' absolute lifetime


async def test_a_session_is_ended_only_by_its_owner(uow_factory: UowFactory) -> None:
    alice, bob = await _user(uow_factory), await _user(uow_factory)
    family = new_id()
    async with uow_factory() as uow:
        await uow.refresh_tokens.add(_refresh(alice.id, family, "e1" * 32))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.revoke_session(family, user_id=bob.id, now=T0) is False
        assert await uow.refresh_tokens.revoke_session(new_id(), user_id=alice.id, now=T0) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert len(await uow.refresh_tokens.list_sessions(alice.id, now=T0, limit=10, before=None)) == 1
        assert await uow.refresh_tokens.revoke_session(family, user_id=alice.id, now=T0) is True
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.list_sessions(alice.id, now=T0, limit=10, before=None) == []
        assert (
            await uow.refresh_tokens.revoke_session(family, user_id=alice.id, now=T0) is True
        )  # twice is fine


async def test_revoking_all_of_a_users_credentials_keeps_the_given_session_and_other_users(
    uow_factory: UowFactory,
) -> None:
    alice, bob = await _user(uow_factory), await _user(uow_factory)
    keep, other, bobs = new_id(), new_id(), new_id()
    async with uow_factory() as uow:
        await uow.refresh_tokens.add(_refresh(alice.id, keep, "f1" * 32))
        await uow.refresh_tokens.add(_refresh(alice.id, other, "f2" * 32))
        await uow.refresh_tokens.add(_refresh(bob.id, bobs, "f3" * 32))
        await uow.personal_access_tokens.add(_pat(alice.id, "f4" * 32))
        await uow.personal_access_tokens.add(_pat(bob.id, "f5" * 32))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.revoke_all_for_user(alice.id, now=T0, keep=keep) == 1
        assert await uow.personal_access_tokens.revoke_all_for_user(alice.id, now=T0) == 1
        await uow.commit()
    async with uow_factory() as uow:
        assert [
            s.id for s in await uow.refresh_tokens.list_sessions(alice.id, now=T0, limit=10, before=None)
        ] == [keep]
        assert len(await uow.refresh_tokens.list_sessions(bob.id, now=T0, limit=10, before=None)) == 1
        alice_pat = await uow.personal_access_tokens.get_by_hash("f4" * 32)
        bob_pat = await uow.personal_access_tokens.get_by_hash("f5" * 32)
        assert await uow.refresh_tokens.revoke_all_for_user(alice.id, now=T0) == 1
    assert alice_pat is not None
    assert alice_pat.revoked_at == T0
    assert bob_pat is not None
    assert bob_pat.revoked_at is None


async def test_a_users_revocation_point_is_stored(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    async with uow_factory() as uow:
        await uow.users.update(user.with_credentials_revoked(T0))
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.users.get(user.id)
    assert stored is not None
    assert stored.credentials_valid_after == T0.replace(microsecond=0) + timedelta(seconds=1)
