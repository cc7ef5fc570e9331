"""A credential never outlives its controls: PAT lifetimes, the revocation point, fresh sign-in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from asynccoder.application.identity.access_tokens import AccessTokenVerifier
from asynccoder.application.identity.authenticate import AuthenticateCaller
from asynccoder.application.identity.personal_access_tokens import (
    CreatePersonalAccessToken,
    CreatePersonalAccessTokenCommand,
)
from asynccoder.domain.errors import Forbidden, Refused, Unauthenticated
from asynccoder.domain.identity import Actor, CredentialKind, Role
from tests.support.builders import T0, make_user, new_id
from tests.support.identity import Identity


def _create(identity: Identity) -> CreatePersonalAccessToken:
    return CreatePersonalAccessToken(identity.uow(), identity.ids, identity.clock)


def _via_access_token(signed_in_ago: timedelta, identity: Identity) -> Actor:
    return Actor(
        new_id(),
        Role.USER,
        credential=CredentialKind.ACCESS_TOKEN,
        session_id=new_id(),
        authenticated_at=identity.clock.now() - signed_in_ago,
        credential_expires_at=identity.clock.now() + timedelta(minutes=15),
    )


async def test_an_access_token_creates_a_personal_access_token_only_soon_after_signing_in() -> None:
    identity = Identity()
    fresh = await _create(identity)(
        CreatePersonalAccessTokenCommand(actor=_via_access_token(timedelta(minutes=9), identity), name="ci")
    )
    assert fresh.token.expires_at is None
    with pytest.raises(Forbidden) as refused:
        await _create(identity)(
            CreatePersonalAccessTokenCommand(
                actor=_via_access_token(timedelta(minutes=11), identity), name="ci"
            )
        )
    assert refused.value.code == "fresh_login_required"


async def test_a_personal_access_token_cannot_mint_one_that_outlives_it() -> None:
    identity = Identity()
    expires = identity.clock.now() + timedelta(days=2)
    creator = Actor(
        new_id(), Role.USER, credential=CredentialKind.PERSONAL_ACCESS_TOKEN, credential_expires_at=expires
    )
    defaulted = await _create(identity)(CreatePersonalAccessTokenCommand(actor=creator, name="ci"))
    assert defaulted.token.expires_at == expires
    shorter = await _create(identity)(
        CreatePersonalAccessTokenCommand(actor=creator, name="ci", expires_in_days=1)
    )
    assert shorter.token.expires_at == identity.clock.now() + timedelta(days=1)
    with pytest.raises(Refused) as refused:
        await _create(identity)(CreatePersonalAccessTokenCommand(actor=creator, name="ci", expires_in_days=3))
    assert refused.value.code == "token_outlives_credential"


async def test_an_access_token_issued_before_the_revocation_point_is_refused_on_the_one_user_lookup() -> None:
    identity = Identity()
    user = make_user()
    identity.store.state.users[user.id] = user
    authenticate = AuthenticateCaller([AccessTokenVerifier(identity.tokens, identity.clock)], identity.uow())
    before = identity.tokens.issue(user, now=T0).token
    assert (await authenticate(before)).user_id == user.id

    revoked = user.with_credentials_revoked(T0 + timedelta(microseconds=500))
    identity.store.state.users[user.id] = revoked
    with pytest.raises(Unauthenticated) as caught:
        await authenticate(before)  # issued in the very second of the revocation: refused too
    assert caught.value.code == "token_revoked"
    after = identity.tokens.issue(revoked, now=revoked.token_issue_time(T0)).token
    assert (await authenticate(after)).credential is CredentialKind.ACCESS_TOKEN
