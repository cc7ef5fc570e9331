"""AuthenticateCaller on in-memory adapters."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.identity.access_tokens import AccessTokenVerifier
from asynccoder.application.identity.authenticate import AuthenticateCaller
from asynccoder.domain.errors import Unauthenticated
from asynccoder.domain.identity import (
    Role,
    UserStatus,
)
from tests.support.builders import T0, make_user
from tests.support.system import ManualClock

tokens = JwtAccessTokenService(secret="s" * 40, issuer="i", audience="a", ttl=timedelta(minutes=15))


async def _setup(**user_fields: object) -> tuple[AuthenticateCaller, str, UUID]:
    store = InMemoryStore()
    user = make_user(**user_fields)
    store.state.users[user.id] = user
    clock = ManualClock(T0)
    authenticate = AuthenticateCaller([AccessTokenVerifier(tokens, clock)], InMemoryUnitOfWork(store))
    return authenticate, tokens.issue(user, now=T0).token, user.id


async def test_a_valid_access_token_yields_its_user_as_the_actor() -> None:
    authenticate, token, user_id = await _setup()
    actor = await authenticate(token)
    assert actor.user_id == user_id
    assert actor.role is Role.USER


async def test_no_credential_is_unauthenticated() -> None:
    authenticate, _, _ = await _setup()
    with pytest.raises(Unauthenticated) as caught:
        await authenticate(None)
    assert caught.value.code == "missing_token"


async def test_an_unrecognised_credential_is_unauthenticated() -> None:
    authenticate, _, _ = await _setup()
    with pytest.raises(Unauthenticated):
        await authenticate("garbage")


async def test_a_disabled_user_cannot_authenticate_with_an_unexpired_token() -> None:
    authenticate, token, _ = await _setup(status=UserStatus.DISABLED)
    with pytest.raises(Unauthenticated):
        await authenticate(token)


async def test_the_role_comes_from_the_stored_user_not_the_token() -> None:
    store = InMemoryStore()
    user = make_user(role=Role.ADMIN)
    token = tokens.issue(user, now=T0).token
    store.state.users[user.id] = make_user(id=user.id, email=user.email, role=Role.USER)
    authenticate = AuthenticateCaller(
        [AccessTokenVerifier(tokens, ManualClock(T0))], InMemoryUnitOfWork(store)
    )
    assert (await authenticate(token)).role is Role.USER
