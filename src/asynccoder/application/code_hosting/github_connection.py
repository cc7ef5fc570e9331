"""Connecting a user's GitHub account (OAuth web flow with PKCE S256)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.application.ports.code_hosting import GitHubOAuth
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
    SecretBox,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.code_hosting import (
    GitHubConnection,
    github_connection_context,
)
from asynccoder.domain.errors import DomainError, InvalidInput, NotFound, Refused, Unavailable
from asynccoder.domain.identity import (
    Actor,
    OAuthState,
    token_digest,
)

STATE_LIFETIME = timedelta(minutes=10)


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class GitHubConnectSettings:
    redirect_uri: str


def _not_configured() -> Refused:
    return Refused("GitHub sign-in is not configured on this server.", code="github_not_configured")


@dataclass(frozen=True, slots=True)
class StartGitHubConnectionCommand:
    actor: Actor


@dataclass(frozen=True, slots=True)
class GitHubAuthorization:
    authorize_url: str


class StartGitHubConnection:
    """Begin connecting GitHub: a fresh ``state`` bound to the caller (stored hashed, single use, 10 minutes)
    and a PKCE verifier kept server-side; returns the URL to send the browser to. The caller's used or
    expired states are deleted."""

    def __init__(
        self,
        uow: UnitOfWork,
        github: GitHubOAuth,
        settings: GitHubConnectSettings,
        ids: IdGenerator,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._github = github
        self._settings = settings
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: StartGitHubConnectionCommand) -> GitHubAuthorization:
        if not self._github.configured:
            raise _not_configured()
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43..128
        now = self._clock.now()
        async with self._uow as uow:
            await uow.oauth_states.delete_stale(command.actor.user_id, now=now)
            await uow.oauth_states.add(
                OAuthState(
                    id=self._ids.new_id(),
                    user_id=command.actor.user_id,
                    state_hash=token_digest(state),
                    code_verifier=verifier,
                    created_at=now,
                    expires_at=now + STATE_LIFETIME,
                )
            )
            await uow.commit()
        url = self._github.authorize_url(
            state=state, code_challenge=pkce_challenge(verifier), redirect_uri=self._settings.redirect_uri
        )
        return GitHubAuthorization(authorize_url=url)


@dataclass(frozen=True, slots=True)
class CompleteGitHubConnectionCommand:
    actor: Actor
    code: str = dataclasses.field(repr=False)
    state: str = dataclasses.field(repr=False)


def _invalid_state() -> InvalidInput:
    return InvalidInput("The authorization state is unknown, expired or already used.", code="invalid_state")


class CompleteGitHubConnection:
    """Finish connecting GitHub: check and burn the state, exchange the code (with the PKCE verifier), read
    the GitHub identity, store the token sealed and bound to the user, remember the GitHub login.

    Rules: the state must exist, be unused, unexpired and belong to the caller (``invalid_state`` otherwise;
    someone else's state is indistinguishable from an unknown one); it is consumed once GitHub has answered
    the code exchange, even with a refusal, but not when GitHub could not be reached (``Unavailable``), so
    the user's retry succeeds; a new connection replaces the previous one.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        github: GitHubOAuth,
        box: SecretBox,
        settings: GitHubConnectSettings,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._github = github
        self._box = box
        self._settings = settings
        self._clock = clock

    async def __call__(self, command: CompleteGitHubConnectionCommand) -> GitHubConnection:
        if not self._github.configured:
            raise _not_configured()
        now = self._clock.now()
        user_id = command.actor.user_id
        async with self._uow as uow:
            state = await uow.oauth_states.get_by_hash(token_digest(command.state))
        if state is None or state.user_id != user_id or state.used_at is not None or state.expires_at <= now:
            raise _invalid_state()
        try:
            grant = await self._github.exchange_code(
                code=command.code, code_verifier=state.code_verifier, redirect_uri=self._settings.redirect_uri
            )
        except Unavailable:
            raise  # GitHub did not answer: the state stays usable, so the user's retry can succeed
        except DomainError:
            await self._consume(state.id, now)
            raise
        await self._consume(state.id, now)
        identity = await self._github.identity(grant.access_token)
        sealed = self._box.encrypt(grant.access_token, context=github_connection_context(user_id))
        now = self._clock.now()
        connection = GitHubConnection(
            user_id=user_id,
            github_user_id=identity.github_user_id,
            login=identity.login,
            sealed_token=sealed,
            scopes=grant.scopes,
            created_at=now,
            updated_at=now,
        )
        async with self._uow as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound("No such user.")
            await uow.github_connections.save(connection)
            await uow.users.update(dataclasses.replace(user, github_login=identity.login, updated_at=now))
            await uow.commit()
            saved = await uow.github_connections.get(user_id)
        return saved or connection

    async def _consume(self, state_id: UUID, now: datetime) -> None:
        """Burn the state once GitHub has answered; a concurrent completion that burnt it first wins."""
        async with self._uow as uow:
            consumed = await uow.oauth_states.consume(state_id, now=now)
            await uow.commit()
        if not consumed:
            raise _invalid_state()


@dataclass(frozen=True, slots=True)
class GetGitHubConnectionQuery:
    actor: Actor


class GetGitHubConnection:
    """The caller's GitHub connection (``NotFound`` with code ``github_not_connected`` when there is none)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: GetGitHubConnectionQuery) -> GitHubConnection:
        async with self._uow as uow:
            connection = await uow.github_connections.get(query.actor.user_id)
        if connection is None:
            raise NotFound("GitHub is not connected.", code="github_not_connected")
        return connection


@dataclass(frozen=True, slots=True)
class DisconnectGitHubCommand:
    actor: Actor


class DisconnectGitHub:
    """Forget the caller's GitHub token and login. Rules: idempotent."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: DisconnectGitHubCommand) -> None:
        async with self._uow as uow:
            await uow.github_connections.delete(command.actor.user_id)
            user = await uow.users.get(command.actor.user_id)
            if user is not None and user.github_login is not None:
                await uow.users.update(
                    dataclasses.replace(user, github_login=None, updated_at=self._clock.now())
                )
            await uow.commit()
