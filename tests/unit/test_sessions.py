"""Registration, login, refresh-token rotation and logout on in-memory adapters."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta

import pytest

from asynccoder.application.identity.registration import RegisterUserCommand
from asynccoder.application.identity.sessions import (
    LogInCommand,
    LogOutCommand,
    RefreshSessionCommand,
    TokenPair,
)
from asynccoder.domain.errors import InvalidInput, TooManyRequests, Unauthenticated
from asynccoder.domain.identity import (
    MAX_PASSWORD_LENGTH,
    Role,
    UserStatus,
)
from tests.support.identity import CountingHasher, Identity

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"


async def _registered(identity: Identity, email: str = EMAIL, password: str = PASSWORD) -> None:
    await identity.register()(RegisterUserCommand(email=email, password=password))


async def _login(
    identity: Identity, email: str = EMAIL, password: str = PASSWORD, client: str = "198.51.100.1"
) -> TokenPair:
    return await identity.log_in()(LogInCommand(email=email, password=password, client=client))


async def test_registering_creates_an_active_user_with_a_hashed_password() -> None:
    identity = Identity()
    await identity.register()(
        RegisterUserCommand(email=" Ada@Example.com ", password=PASSWORD, display_name="Ada")
    )
    [user] = identity.store.state.users.values()
    assert user.email == EMAIL
    assert user.role is Role.USER
    assert user.status is UserStatus.ACTIVE
    assert user.password_hash is not None
    assert PASSWORD not in user.password_hash


async def test_registering_an_existing_email_changes_nothing_and_looks_the_same() -> None:
    identity = Identity()
    await _registered(identity)
    before = dict(identity.store.state.users)
    result = await identity.register()(RegisterUserCommand(email=EMAIL, password="another long password"))
    assert result is None
    assert identity.store.state.users == before
    assert identity.hasher.hashes == 2  # the second password was hashed too, so timing matches


async def test_registering_with_a_weak_password_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        await Identity().register()(RegisterUserCommand(email=EMAIL, password="short"))
    assert info.value.code == "weak_password"


async def test_logging_in_returns_an_access_token_for_the_user_and_a_refresh_token() -> None:
    identity = Identity()
    await _registered(identity)
    pair = await _login(identity)
    claims = identity.tokens.verify(pair.access_token, now=identity.clock.now())
    assert claims is not None
    assert claims.user_id == next(iter(identity.store.state.users))
    assert pair.refresh_token.startswith("rt_")
    assert pair.expires_in == 900
    [stored] = identity.store.state.refresh_tokens.values()
    assert stored.token_hash != pair.refresh_token


async def test_unknown_email_wrong_password_and_disabled_account_fail_identically() -> None:
    identity = Identity()
    await _registered(identity)
    await _registered(identity, email="off@example.com")
    off = next(u for u in identity.store.state.users.values() if u.email == "off@example.com")
    identity.store.state.users[off.id] = dataclasses.replace(off, status=UserStatus.DISABLED)

    errors = []
    for email, password in [
        ("nobody@example.com", PASSWORD),
        (EMAIL, "wrong password!!"),
        ("off@example.com", PASSWORD),
    ]:
        with pytest.raises(Unauthenticated) as info:
            await _login(identity, email=email, password=password)
        errors.append((info.value.code, info.value.message))
    assert len(set(errors)) == 1
    assert errors[0][0] == "invalid_credentials"


async def test_an_unknown_email_costs_one_dummy_verification() -> None:
    identity = Identity()
    with pytest.raises(Unauthenticated):
        await _login(identity, email="nobody@example.com")
    assert identity.hasher.dummy_verifies == 1


async def test_an_over_long_password_is_refused_without_hashing() -> None:
    identity = Identity()
    await _registered(identity)
    with pytest.raises(Unauthenticated) as info:
        await _login(identity, password="x" * (MAX_PASSWORD_LENGTH + 1))
    assert info.value.code == "invalid_credentials"
    assert identity.hasher.verifies == 0
    assert identity.hasher.dummy_verifies == 0


async def test_repeated_guesses_from_one_client_are_throttled_even_with_the_right_password() -> None:
    identity = Identity(pair_limit=3)
    await _registered(identity)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await _login(identity, password="wrong password!!", client="198.51.100.9")
        identity.clock.advance(timedelta(seconds=61))  # past the account delay: only the pair limit is left
    with pytest.raises(TooManyRequests) as info:
        await _login(identity, client="198.51.100.9")
    assert info.value.code == "too_many_attempts"
    assert 0 < info.value.retry_after <= 900
    identity.clock.advance(timedelta(seconds=901))
    assert (await _login(identity, client="198.51.100.9")).access_token


async def test_fifty_concurrent_guesses_from_one_client_check_at_most_the_limit() -> None:
    identity = Identity(pair_limit=5)
    await _registered(identity)
    identity.hasher.verifies = 0
    attempts = [
        _login(identity, password="wrong password!!" if n < 49 else PASSWORD, client="198.51.100.9")
        for n in range(50)
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    assert identity.hasher.verifies + identity.hasher.dummy_verifies <= 5
    assert sum(isinstance(r, Unauthenticated) for r in results) <= 5
    assert sum(isinstance(r, TooManyRequests) for r in results) >= 45
    assert not any(isinstance(r, TokenPair) for r in results)  # the right password came too late


async def test_a_strangers_failures_delay_the_owner_by_at_most_the_cap() -> None:
    identity = Identity(pair_limit=5, delay_cap=60)
    await _registered(identity)
    identity.hasher.verifies = 0
    for n in range(200):  # strangers on 50 addresses guessing as fast as they can, one attempt a second
        with contextlib.suppress(Unauthenticated, TooManyRequests):
            await _login(identity, password="wrong password!!", client=f"203.0.113.{n % 50}")
        identity.clock.advance(timedelta(seconds=1))
    assert identity.hasher.verifies < 20  # the account-wide delay held the guessing back
    with contextlib.suppress(Unauthenticated, TooManyRequests):  # admitted or not, the account's delay is on
        await _login(identity, password="wrong password!!", client="192.0.2.1")
    with pytest.raises(TooManyRequests) as refused:
        await _login(identity, client="198.51.100.1")
    assert refused.value.retry_after <= 60
    identity.clock.advance(timedelta(seconds=refused.value.retry_after))
    assert (await _login(identity, client="198.51.100.1")).access_token


async def test_the_account_delay_doubles_with_attempts_from_all_clients_up_to_the_cap() -> None:
    identity = Identity(pair_limit=2, delay_cap=60)
    assert await identity.throttle.acquire(account=EMAIL, client="203.0.113.0") == 0
    waits = []
    for n in range(1, 8):
        assert await identity.throttle.acquire(account=EMAIL, client=f"203.0.113.{n}") == 0
        waits.append(await identity.throttle.acquire(account=EMAIL, client="198.51.100.1"))
        identity.clock.advance(timedelta(seconds=waits[-1]))
    assert waits == [1, 2, 4, 8, 16, 32, 60]


async def test_one_client_guessing_many_accounts_is_throttled() -> None:
    identity = Identity(client_limit=4)
    for n in range(4):
        with pytest.raises(Unauthenticated):
            await _login(identity, email=f"user{n}@example.com", client="203.0.113.7")
    with pytest.raises(TooManyRequests):
        await _login(identity, email="user99@example.com", client="203.0.113.7")
    with pytest.raises(Unauthenticated):  # another client is not affected
        await _login(identity, email="user99@example.com", client="203.0.113.8")


async def test_a_successful_login_upgrades_a_hash_made_with_older_parameters() -> None:
    identity = Identity()
    await _registered(identity)
    old_hash = next(iter(identity.store.state.users.values())).password_hash
    identity.hasher = CountingHasher(memory_kib=128, time_cost=2)
    await _login(identity)
    new_hash = next(iter(identity.store.state.users.values())).password_hash
    assert new_hash != old_hash
    assert new_hash is not None
    assert not identity.hasher.needs_rehash(new_hash)


async def test_refreshing_rotates_the_token_and_the_old_one_stops_working() -> None:
    identity = Identity()
    await _registered(identity)
    first = await _login(identity)
    second = await identity.refresh()(RefreshSessionCommand(first.refresh_token))
    assert second.refresh_token != first.refresh_token
    assert identity.tokens.verify(second.access_token, now=identity.clock.now()) is not None
    third = await identity.refresh()(RefreshSessionCommand(second.refresh_token))
    assert third.refresh_token


async def test_reusing_a_refresh_token_revokes_the_whole_family() -> None:
    identity = Identity()
    await _registered(identity)
    first = await _login(identity)
    second = await identity.refresh()(RefreshSessionCommand(first.refresh_token))
    with pytest.raises(Unauthenticated) as info:
        await identity.refresh()(RefreshSessionCommand(first.refresh_token))
    assert info.value.code == "invalid_refresh_token"
    with pytest.raises(Unauthenticated):
        await identity.refresh()(RefreshSessionCommand(second.refresh_token))


async def test_another_login_is_a_separate_family() -> None:
    identity = Identity()
    await _registered(identity)
    laptop = await _login(identity)
    phone = await _login(identity)
    await identity.refresh()(RefreshSessionCommand(laptop.refresh_token))
    with pytest.raises(Unauthenticated):
        await identity.refresh()(RefreshSessionCommand(laptop.refresh_token))
    assert (await identity.refresh()(RefreshSessionCommand(phone.refresh_token))).refresh_token


async def test_an_idle_refresh_token_expires() -> None:
    identity = Identity()
    await _registered(identity)
    pair = await _login(identity)
    identity.clock.advance(timedelta(days=14, seconds=1))
    with pytest.raises(Unauthenticated):
        await identity.refresh()(RefreshSessionCommand(pair.refresh_token))


async def test_a_family_dies_at_its_absolute_lifetime_even_when_used_daily() -> None:
    identity = Identity()
    await _registered(identity)
    token = (await _login(identity)).refresh_token
    for _ in range(59):
        identity.clock.advance(timedelta(days=1))
        token = (await identity.refresh()(RefreshSessionCommand(token))).refresh_token
    identity.clock.advance(timedelta(days=1))
    with pytest.raises(Unauthenticated):
        await identity.refresh()(RefreshSessionCommand(token))


async def test_a_disabled_user_cannot_refresh() -> None:
    identity = Identity()
    await _registered(identity)
    pair = await _login(identity)
    user = next(iter(identity.store.state.users.values()))
    identity.store.state.users[user.id] = dataclasses.replace(user, status=UserStatus.DISABLED)
    with pytest.raises(Unauthenticated):
        await identity.refresh()(RefreshSessionCommand(pair.refresh_token))


async def test_an_access_token_is_not_a_refresh_token() -> None:
    identity = Identity()
    await _registered(identity)
    pair = await _login(identity)
    with pytest.raises(Unauthenticated):
        await identity.refresh()(RefreshSessionCommand(pair.access_token))


async def test_logout_revokes_the_family_and_is_idempotent() -> None:
    identity = Identity()
    await _registered(identity)
    first = await _login(identity)
    second = await identity.refresh()(RefreshSessionCommand(first.refresh_token))
    await identity.log_out()(LogOutCommand(second.refresh_token))
    await identity.log_out()(LogOutCommand(second.refresh_token))
    await identity.log_out()(LogOutCommand("rt_unknown"))
    with pytest.raises(Unauthenticated):
        await identity.refresh()(RefreshSessionCommand(second.refresh_token))
