"""Use cases for connecting repositories and managing their settings.

The unit of work of a request is entered several times in sequence by these use cases (never nested), so that
no database transaction stays open while the code host is called over the network.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from asynccoder.application.ports.code_hosting import (
    AccessibleRepository,
    CodeHost,
    HostedRepository,
    WebhookRegistration,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
    SecretBox,
    SecretUnreadable,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import Page, check_limit, page_of
from asynccoder.domain.code_hosting import (
    Permission,
    Repository,
    RepositoryAccess,
    RepositoryWebhook,
    github_connection_context,
    validate_full_name,
    webhook_secret_context,
)
from asynccoder.domain.errors import (
    Conflict,
    DomainError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    Refused,
)
from asynccoder.domain.identity import Actor

log = logging.getLogger("asynccoder.code_hosting.repositories")


@dataclass(frozen=True, slots=True)
class CodeHostingConfig:
    """Where the code host delivers webhooks (the public URL of the GitHub webhook route).

    ``app_webhook_secret`` (``GITHUB_WEBHOOK_SECRET``) optionally verifies installation-level deliveries.
    """

    webhook_url: str
    app_webhook_secret: str | None = None


class UserTokens:
    """The caller's code-host token: the sealed GitHub token, or nothing for a host that needs none."""

    def __init__(self, uow: UnitOfWork, box: SecretBox, code_host: CodeHost) -> None:
        self._uow = uow
        self._box = box
        self._host = code_host

    async def token_for(self, user_id: UUID) -> str:
        """Raise ``Refused`` (``github_not_connected``) when the user has not connected GitHub."""
        if not self._host.requires_token:
            return ""
        async with self._uow as uow:
            connection = await uow.github_connections.get(user_id)
        if connection is None:
            raise Refused("Connect your GitHub account first.", code="github_not_connected")
        try:
            return self._box.decrypt(connection.sealed_token, context=github_connection_context(user_id))
        except SecretUnreadable:
            raise Refused(
                "Your GitHub connection must be renewed.", code="code_host_reauthorization_required"
            ) from None


async def visible_repository(uow: UnitOfWork, actor: Actor, repository_id: UUID) -> AccessibleRepository:
    """The repository with the caller's permission, or ``NotFound`` when the caller has no access row."""
    access = await uow.repositories.get_access(actor.user_id, repository_id)
    repository = await uow.repositories.get(repository_id) if access is not None else None
    if access is None or repository is None:
        raise NotFound("No such repository.", code="repository_not_found")
    return AccessibleRepository(repository, access.permission)


@dataclass(frozen=True, slots=True)
class RepositoryView:
    repository: Repository
    permission: Permission
    webhook_active: bool


@dataclass(frozen=True, slots=True)
class ConnectRepositoryInput:
    actor: Actor
    full_name: str


@dataclass(frozen=True, slots=True)
class ConnectRepositoryOutput:
    view: RepositoryView
    created: bool


class ConnectRepository:
    """Connect ``owner/name`` for the caller.

    Rules: the identifier follows GitHub's rules; the caller's access is verified on the code host (a
    repository the caller cannot see is 404 ``code_host_not_found``) and mirrored as read/write/admin;
    connecting an already-connected repository adds the caller's access row (and refreshes the caller's
    level, the default branch, visibility and GitHub's repository id: when the id changed, the name was
    re-created, so the old webhook row is dropped and a new hook registered); the default branch and
    visibility are stored; a webhook with a fresh per-repository secret (sealed
    at rest) is registered once per repository, by the first caller with admin rights, and a failed
    registration leaves the repository connected without a webhook (a later connect retries); a hook already
    on the repository with the platform's URL (one the platform forgot) is taken over with the new secret.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        code_host: CodeHost,
        tokens: UserTokens,
        box: SecretBox,
        clock: Clock,
        ids: IdGenerator,
        config: CodeHostingConfig,
    ) -> None:
        self._uow = uow
        self._host = code_host
        self._tokens = tokens
        self._box = box
        self._clock = clock
        self._ids = ids
        self._config = config

    async def __call__(self, command: ConnectRepositoryInput) -> ConnectRepositoryOutput:
        full_name = validate_full_name(command.full_name)
        token = await self._tokens.token_for(command.actor.user_id)
        hosted = await self._host.get_repository(token, full_name)
        now = self._clock.now()
        secret: str | None = None
        claimed: RepositoryWebhook | None = None
        async with self._uow as uow:
            repository = await uow.repositories.find(self._host.name, hosted.host_id, hosted.full_name)
            created = repository is None
            if repository is None:
                repository = _new_repository(self._ids.new_id(), self._host.name, hosted, now)
                try:
                    await uow.repositories.add(repository)
                except Conflict:
                    # Another user connected it concurrently: join that row instead.
                    existing = await uow.repositories.find(self._host.name, hosted.host_id, hosted.full_name)
                    if existing is None:
                        raise
                    repository, created = existing, False
            else:
                recreated = (
                    None not in (repository.host_id, hosted.host_id) and repository.host_id != hosted.host_id
                )
                repository = _refreshed(repository, hosted, now)
                await uow.repositories.update(repository)
                if recreated:  # the name now belongs to a new repository: the old hook died with the old one
                    await uow.repositories.delete_webhook(repository.id)
            await uow.repositories.save_access(
                RepositoryAccess(command.actor.user_id, repository.id, hosted.permission, now, now)
            )
            webhook = await uow.repositories.get_webhook(repository.id)
            if webhook is None and self._host.supports_webhooks and hosted.permission is Permission.ADMIN:
                secret = secrets.token_hex(32)
                hook_id = self._ids.new_id()
                candidate = RepositoryWebhook(
                    id=hook_id,
                    repository_id=repository.id,
                    sealed_secret=self._box.encrypt(
                        secret, context=webhook_secret_context(hook_id, repository.id)
                    ),
                    created_at=now,
                )
                if await uow.repositories.add_webhook_if_absent(candidate):
                    claimed = webhook = candidate
            await uow.commit()
        webhook_active = webhook is not None
        if claimed is not None and secret is not None:
            webhook_active = await self._register(token, repository, claimed, secret)
        return ConnectRepositoryOutput(RepositoryView(repository, hosted.permission, webhook_active), created)

    async def _register(
        self, token: str, repository: Repository, webhook: RepositoryWebhook, secret: str
    ) -> bool:
        try:
            host_hook_id = await self._host.register_webhook(
                token, repository.full_name, WebhookRegistration(url=self._config.webhook_url, secret=secret)
            )
        except DomainError:
            async with self._uow as uow:
                current = await uow.repositories.get_webhook(repository.id)
                if current is not None and current.id == webhook.id:
                    await uow.repositories.delete_webhook(repository.id)
                await uow.commit()
            return False
        async with self._uow as uow:
            await uow.repositories.set_webhook_host_id(webhook.id, host_hook_id)
            await uow.commit()
        return True


def _new_repository(repository_id: UUID, host: str, hosted: HostedRepository, now: datetime) -> Repository:
    return Repository(
        id=repository_id,
        host=host,
        host_id=hosted.host_id,
        full_name=hosted.full_name,
        default_branch=hosted.default_branch,
        visibility=hosted.visibility,
        html_url=hosted.html_url,
        clone_url=hosted.clone_url,
        created_at=now,
        updated_at=now,
    )


def _refreshed(repository: Repository, hosted: HostedRepository, now: datetime) -> Repository:
    return replace(
        repository,
        host_id=hosted.host_id if hosted.host_id is not None else repository.host_id,
        full_name=hosted.full_name,
        default_branch=hosted.default_branch,
        visibility=hosted.visibility,
        html_url=hosted.html_url,
        clone_url=hosted.clone_url,
        updated_at=now,
    )


@dataclass(frozen=True, slots=True)
class ListRepositoriesInput:
    actor: Actor
    limit: int = 20
    cursor: UUID | None = None


class ListRepositories:
    """The caller's connected repositories, newest first; never another user's."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: ListRepositoriesInput) -> Page[AccessibleRepository]:
        limit = check_limit(query.limit)
        async with self._uow.read_only() as uow:
            rows = await uow.repositories.list_for_user(
                query.actor.user_id, limit=limit + 1, before=query.cursor
            )
        return page_of(rows, limit, lambda row: row.repository.id)


@dataclass(frozen=True, slots=True)
class ListConnectableRepositoriesInput:
    actor: Actor
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True, slots=True)
class ConnectableRepositories:
    items: list[HostedRepository]
    next_page: int | None


class ListConnectableRepositories:
    """Repositories the caller can access on the code host (page by page), whether connected or not."""

    def __init__(self, code_host: CodeHost, tokens: UserTokens) -> None:
        self._host = code_host
        self._tokens = tokens

    async def __call__(self, query: ListConnectableRepositoriesInput) -> ConnectableRepositories:
        per_page = check_limit(query.per_page)
        if query.page < 1:
            raise InvalidInput("The cursor is not valid.", problems=[FieldProblem("cursor", "is not valid")])
        token = await self._tokens.token_for(query.actor.user_id)
        page = await self._host.list_repositories(token, page=query.page, per_page=per_page)
        return ConnectableRepositories(page.items, page.next_page)


@dataclass(frozen=True, slots=True)
class GetRepositoryInput:
    actor: Actor
    repository_id: UUID


class GetRepository:
    """One connected repository; 404 unless the caller has access to it."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: GetRepositoryInput) -> RepositoryView:
        async with self._uow as uow:
            found = await visible_repository(uow, query.actor, query.repository_id)
            webhook = await uow.repositories.get_webhook(query.repository_id)
        return RepositoryView(found.repository, found.permission, webhook is not None)


@dataclass(frozen=True, slots=True)
class DisconnectRepositoryInput:
    actor: Actor
    repository_id: UUID


class DisconnectRepository:
    """Remove the caller's access to a repository (404 if the caller has none).

    When the last user leaves, the webhook row is removed in the same transaction and the hook is deleted on
    the code host best-effort (a failure is logged: deliveries for an unknown hook are ignored, and a later
    connect takes the surviving hook over).
    The repository row and its pull-request history stay.
    """

    def __init__(self, uow: UnitOfWork, code_host: CodeHost, tokens: UserTokens) -> None:
        self._uow = uow
        self._host = code_host
        self._tokens = tokens

    async def __call__(self, command: DisconnectRepositoryInput) -> None:
        async with self._uow as uow:
            found = await visible_repository(uow, command.actor, command.repository_id)
            await uow.repositories.delete_access(command.actor.user_id, command.repository_id)
            removed: RepositoryWebhook | None = None
            if not await uow.repositories.list_access(command.repository_id):
                removed = await uow.repositories.delete_webhook(command.repository_id)
            await uow.commit()
        if removed is None or removed.host_hook_id is None:
            return
        try:
            token = await self._tokens.token_for(command.actor.user_id)
        except DomainError:
            token = None
        await delete_hook_at_host(
            self._host, [token] if token is not None else [], found.repository.full_name, removed.host_hook_id
        )


async def delete_hook_at_host(host: CodeHost, tokens: list[str], full_name: str, hook_id: int) -> bool:
    """Best effort: delete the platform's hook at the code host with the first token allowed to; a failure
    is logged (repository, hook id and error code only) and otherwise ignored, because the row and secret
    are gone and a later connect takes the hook over."""
    code = "no_token"
    for token in tokens:
        try:
            await host.remove_webhook(token, full_name, hook_id)
        except DomainError as exc:
            code = exc.code or type(exc).__name__
            continue
        log.info("webhook %s of %s deleted at the code host", hook_id, full_name)
        return True
    log.warning("webhook %s of %s could not be deleted at the code host (%s)", hook_id, full_name, code)
    return False


@dataclass(frozen=True, slots=True)
class UpdateRepositorySettingsInput:
    actor: Actor
    repository_id: UUID
    auto_review: bool
    default_model_id: UUID | None
    default_base_branch: str | None
    test_command: str | None = None


class UpdateRepositorySettings:
    """Change auto-review, the default model, the default base branch and the test command.

    Rules: 404 without access; write (or admin) access on the code host is required, otherwise 403
    ``insufficient_repository_access`` (the caller can see the repository, so hiding it would be pointless);
    the base branch must be a valid git branch name; the test command one line of printable text (it runs
    only in Debug's sandbox); the default model must be an enabled catalogue model (400 ``unknown_model``
    otherwise).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: UpdateRepositorySettingsInput) -> RepositoryView:
        async with self._uow as uow:
            found = await visible_repository(uow, command.actor, command.repository_id)
            if not found.permission.allows(Permission.WRITE):
                raise Forbidden(
                    "Changing repository settings needs write access to the repository.",
                    code="insufficient_repository_access",
                )
            if command.default_model_id is not None:
                model = await uow.ai_catalogue.get_model(command.default_model_id)
                if model is None or not model.enabled:
                    raise InvalidInput(
                        "The default model is not a model of the catalogue.",
                        problems=[FieldProblem("default_model_id", "must be the id of an enabled model")],
                        code="unknown_model",
                    )
            updated = found.repository.with_settings(
                auto_review=command.auto_review,
                default_model_id=command.default_model_id,
                default_base_branch=command.default_base_branch,
                test_command=command.test_command,
                now=self._clock.now(),
            )
            await uow.repositories.update(updated)
            webhook = await uow.repositories.get_webhook(updated.id)
            await uow.commit()
        return RepositoryView(updated, found.permission, webhook is not None)
