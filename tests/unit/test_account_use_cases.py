"""Personal access tokens, profile, user administration, Clerk provisioning, GitHub connection."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.memory.code_hosting import InMemoryGitHubOAuth
from asynccoder.application.code_hosting.github_connection import (
    CompleteGitHubConnection,
    CompleteGitHubConnectionCommand,
    DisconnectGitHub,
    DisconnectGitHubCommand,
    GitHubConnectSettings,
    StartGitHubConnection,
    StartGitHubConnectionCommand,
)
from asynccoder.application.identity.admin import (
    ListUsers,
    ListUsersQuery,
    UpdateUser,
    UpdateUserCommand,
)
from asynccoder.application.identity.clerk import ClerkSessionVerifier
from asynccoder.application.identity.personal_access_tokens import (
    CreatePersonalAccessToken,
    CreatePersonalAccessTokenCommand,
    ListPersonalAccessTokens,
    ListPersonalAccessTokensQuery,
    PersonalAccessTokenVerifier,
    RevokePersonalAccessToken,
    RevokePersonalAccessTokenCommand,
)
from asynccoder.application.identity.profile import (
    UpdateProfile,
    UpdateProfileCommand,
)
from asynccoder.application.ports.code_hosting import GitHubIdentity
from asynccoder.application.ports.identity import ClerkIdentity
from asynccoder.domain.code_hosting import github_connection_context
from asynccoder.domain.errors import Forbidden, InvalidInput, NotFound, Refused, Unauthenticated
from asynccoder.domain.identity import (
    Role,
    User,
    UserStatus,
)
from tests.support.builders import make_user
from tests.support.identity import Identity, InMemoryClerkTokenVerifier

REDIRECT = "http://127.0.0.1:8000/api/v1/users/github/callback"


def _with_user(identity: Identity, **fields: object) -> User:
    user = make_user(**fields)
    identity.store.state.users[user.id] = user
    return user


# Personal access tokens


async def test_a_personal_access_token_authenticates_its_owner_and_is_stored_hashed() -> None:
    identity = Identity()
    user = _with_user(identity)
    created = await CreatePersonalAccessToken(identity.uow(), identity.ids, identity.clock)(
        CreatePersonalAccessTokenCommand(actor=user.as_actor(), name="ci")
    )
    assert created.secret.startswith("acp_")
    assert len(created.secret) >= 4 + 43
    stored = identity.store.state.personal_access_tokens[created.token.id]
    assert created.secret not in (stored.token_hash, stored.prefix)
    verifier = PersonalAccessTokenVerifier(identity.uow(), identity.clock)
    verified = await verifier.verify(created.secret)
    assert verified is not None
    assert verified.user_id == user.id
    assert identity.store.state.personal_access_tokens[created.token.id].last_used_at == identity.clock.now()


async def test_expired_revoked_and_unknown_personal_access_tokens_are_refused() -> None:
    identity = Identity()
    user = _with_user(identity)
    create = CreatePersonalAccessToken(identity.uow(), identity.ids, identity.clock)
    short = await create(CreatePersonalAccessTokenCommand(actor=user.as_actor(), name="a", expires_in_days=1))
    revoked = await create(CreatePersonalAccessTokenCommand(actor=user.as_actor(), name="b"))
    await RevokePersonalAccessToken(identity.uow(), identity.clock)(
        RevokePersonalAccessTokenCommand(actor=user.as_actor(), token_id=revoked.token.id)
    )
    identity.clock.advance(timedelta(days=1, seconds=1))
    verifier = PersonalAccessTokenVerifier(identity.uow(), identity.clock)
    for secret in (short.secret, revoked.secret, "acp_unknown"):
        with pytest.raises(Unauthenticated):
            await verifier.verify(secret)
    assert await verifier.verify("eyJnot-a-pat") is None


async def test_someone_elses_token_cannot_be_revoked_and_stays_valid() -> None:
    identity = Identity()
    alice, bob = _with_user(identity), _with_user(identity)
    created = await CreatePersonalAccessToken(identity.uow(), identity.ids, identity.clock)(
        CreatePersonalAccessTokenCommand(actor=alice.as_actor(), name="ci")
    )
    with pytest.raises(NotFound):
        await RevokePersonalAccessToken(identity.uow(), identity.clock)(
            RevokePersonalAccessTokenCommand(actor=bob.as_actor(), token_id=created.token.id)
        )
    verified = await PersonalAccessTokenVerifier(identity.uow(), identity.clock).verify(created.secret)
    assert verified is not None
    assert verified.user_id == alice.id


async def test_token_lists_are_per_user_newest_first_and_paginated() -> None:
    identity = Identity()
    alice, bob = _with_user(identity), _with_user(identity)
    create = CreatePersonalAccessToken(identity.uow(), identity.ids, identity.clock)
    names = [f"t{n}" for n in range(5)]
    for name in names:
        await create(CreatePersonalAccessTokenCommand(actor=alice.as_actor(), name=name))
    await create(CreatePersonalAccessTokenCommand(actor=bob.as_actor(), name="bob's"))
    list_tokens = ListPersonalAccessTokens(identity.uow())
    first = await list_tokens(ListPersonalAccessTokensQuery(actor=alice.as_actor(), limit=3))
    second = await list_tokens(
        ListPersonalAccessTokensQuery(actor=alice.as_actor(), limit=3, cursor=first.next_cursor)
    )
    assert [t.name for t in first.items + second.items] == names[::-1]
    assert second.next_cursor is None


@pytest.mark.parametrize(
    "fields",
    [
        {"expires_in_days": 0},
        {"expires_in_days": 400},
        {"expires_in_days": 3, "expires_at": "set"},
        {"name": " "},
    ],
)
async def test_invalid_token_requests_are_refused(fields: dict[str, object]) -> None:
    identity = Identity()
    user = _with_user(identity)
    values: dict[str, object] = {"name": "ci", **fields}
    if values.get("expires_at") == "set":
        values["expires_at"] = identity.clock.now() + timedelta(days=2)
    with pytest.raises(InvalidInput):
        await CreatePersonalAccessToken(identity.uow(), identity.ids, identity.clock)(
            CreatePersonalAccessTokenCommand(actor=user.as_actor(), **values)  # type: ignore[arg-type]
        )


# Profile and administration


async def test_the_profile_update_changes_only_the_display_name() -> None:
    identity = Identity()
    user = _with_user(identity)
    updated = await UpdateProfile(identity.uow(), identity.clock)(
        UpdateProfileCommand(actor=user.as_actor(), display_name="  Grace  ")
    )
    assert updated.display_name == "Grace"
    assert (updated.email, updated.role) == (user.email, user.role)


async def test_only_admins_list_and_change_users() -> None:
    identity = Identity()
    user = _with_user(identity)
    with pytest.raises(Forbidden):
        await ListUsers(identity.uow())(ListUsersQuery(actor=user.as_actor()))
    with pytest.raises(Forbidden):
        await UpdateUser(identity.uow(), identity.clock)(
            UpdateUserCommand(actor=user.as_actor(), user_id=user.id, role=Role.ADMIN)
        )
    assert identity.store.state.users[user.id].role is Role.USER


async def test_an_admin_disables_and_promotes_others_but_not_themselves() -> None:
    identity = Identity()
    admin = _with_user(identity, role=Role.ADMIN)
    user = _with_user(identity)
    update = UpdateUser(identity.uow(), identity.clock)
    changed = await update(
        UpdateUserCommand(actor=admin.as_actor(), user_id=user.id, status=UserStatus.DISABLED)
    )
    assert changed.status is UserStatus.DISABLED
    for change in ({"role": Role.USER}, {"status": UserStatus.DISABLED}):
        with pytest.raises(Refused) as info:
            await update(UpdateUserCommand(actor=admin.as_actor(), user_id=admin.id, **change))  # type: ignore[arg-type]
        assert info.value.code == "cannot_change_own_access"
    with pytest.raises(NotFound):
        await update(
            UpdateUserCommand(actor=admin.as_actor(), user_id=identity.ids.new_id(), role=Role.ADMIN)
        )
    page = await ListUsers(identity.uow())(ListUsersQuery(actor=admin.as_actor(), limit=1))
    assert len(page.items) == 1
    assert page.next_cursor is not None


# Clerk


async def test_the_first_clerk_request_provisions_a_user_and_later_ones_find_it() -> None:
    identity = Identity()
    clerk = InMemoryClerkTokenVerifier()
    token = clerk.issue(
        ClerkIdentity(clerk_user_id="user_2abc", email="Clerk@Example.com", name="Clerk Person")
    )
    verifier = ClerkSessionVerifier(clerk, identity.uow(), identity.ids, identity.clock)
    first = await verifier.verify(token)
    again = await verifier.verify(token)
    assert first is not None
    assert first == again
    user = identity.store.state.users[first.user_id]
    assert (user.email, user.role, user.clerk_user_id) == ("clerk@example.com", Role.USER, "user_2abc")


async def test_a_clerk_email_never_takes_over_an_existing_local_account() -> None:
    identity = Identity()
    local = _with_user(identity, email="taken@example.com")
    clerk = InMemoryClerkTokenVerifier()
    token = clerk.issue(ClerkIdentity(clerk_user_id="user_x", email="taken@example.com", name=None))
    verified = await ClerkSessionVerifier(clerk, identity.uow(), identity.ids, identity.clock).verify(token)
    assert verified is not None
    user_id = verified.user_id
    assert user_id != local.id
    assert identity.store.state.users[user_id].email.endswith("@clerk.invalid")


# GitHub connection


def _github(
    identity: Identity,
) -> tuple[InMemoryGitHubOAuth, StartGitHubConnection, CompleteGitHubConnection]:
    github = InMemoryGitHubOAuth()
    settings = GitHubConnectSettings(redirect_uri=REDIRECT)
    box = AesGcmSecretBox([("k1", b"\x01" * 32)])
    identity.box = box  # type: ignore[attr-defined]
    start = StartGitHubConnection(identity.uow(), github, settings, identity.ids, identity.clock)
    complete = CompleteGitHubConnection(identity.uow(), github, box, settings, identity.clock)
    return github, start, complete


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_connecting_github_stores_the_token_sealed_to_the_user() -> None:
    identity = Identity()
    user = _with_user(identity)
    github, start, complete = _github(identity)
    query = _query((await start(StartGitHubConnectionCommand(actor=user.as_actor()))).authorize_url)
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == REDIRECT
    code = github.approve(
        code_challenge=query["code_challenge"], redirect_uri=REDIRECT, identity=GitHubIdentity(42, "octocat")
    )
    connection = await complete(
        CompleteGitHubConnectionCommand(actor=user.as_actor(), code=code, state=query["state"])
    )
    assert connection.login == "octocat"
    assert not connection.sealed_token.startswith("gho_")
    token = identity.box.decrypt(connection.sealed_token, context=github_connection_context(user.id))  # type: ignore[attr-defined]
    assert token.startswith("gho_")
    assert identity.store.state.users[user.id].github_login == "octocat"
    # The state is single use.
    with pytest.raises(InvalidInput) as info:
        await complete(
            CompleteGitHubConnectionCommand(actor=user.as_actor(), code=code, state=query["state"])
        )
    assert info.value.code == "invalid_state"
    await DisconnectGitHub(identity.uow(), identity.clock)(DisconnectGitHubCommand(actor=user.as_actor()))
    assert identity.store.state.github_connections == {}
    assert identity.store.state.users[user.id].github_login is None


async def test_a_state_bound_to_another_user_or_expired_is_invalid() -> None:
    identity = Identity()
    alice, bob = _with_user(identity), _with_user(identity)
    github, start, complete = _github(identity)
    query = _query((await start(StartGitHubConnectionCommand(actor=alice.as_actor()))).authorize_url)
    code = github.approve(
        code_challenge=query["code_challenge"], redirect_uri=REDIRECT, identity=GitHubIdentity(1, "a")
    )
    with pytest.raises(InvalidInput) as info:
        await complete(CompleteGitHubConnectionCommand(actor=bob.as_actor(), code=code, state=query["state"]))
    assert info.value.code == "invalid_state"
    identity.clock.advance(timedelta(minutes=11))
    with pytest.raises(InvalidInput) as info:
        await complete(
            CompleteGitHubConnectionCommand(actor=alice.as_actor(), code=code, state=query["state"])
        )
    assert info.value.code == "invalid_state"
    assert identity.store.state.github_connections == {}
