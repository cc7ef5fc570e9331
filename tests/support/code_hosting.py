"""Builders for code-hosting tests: a connected repository with a sealed webhook secret, and deliveries."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.github.webhooks import GitHubWebhooks, sign
from asynccoder.adapters.memory.code_hosting import InMemoryCodeHost
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.code_hosting.repositories import CodeHostingConfig, UserTokens
from asynccoder.application.code_hosting.webhooks import IngestGitHubWebhook, WebhookOutcome
from asynccoder.application.ports.code_hosting import WebhookDelivery
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.code_hosting import (
    GitHubConnection,
    Permission,
    PullRequest,
    PullRequestState,
    Repository,
    RepositoryAccess,
    RepositoryWebhook,
    Visibility,
    github_connection_context,
    webhook_secret_context,
)
from asynccoder.domain.identity import User
from tests.support.app import TEST_ENCRYPTION_KEY
from tests.support.builders import T0, make_user, new_id
from tests.support.github_payloads import FULL_NAME, REPO_ID
from tests.support.system import ManualClock, SequentialIdGenerator

SECRET = "whsec-test-0123456789abcdef"
BOX = AesGcmSecretBox([(TEST_ENCRYPTION_KEY.key_id, TEST_ENCRYPTION_KEY.material)])


def make_repository(**overrides: Any) -> Repository:
    values: dict[str, Any] = {
        "id": new_id(),
        "host": "github",
        "host_id": REPO_ID,
        "full_name": FULL_NAME,
        "default_branch": "main",
        "visibility": Visibility.PRIVATE,
        "html_url": f"https://github.com/{FULL_NAME}",
        "clone_url": f"https://github.com/{FULL_NAME}.git",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return Repository(**values)


def make_pull(repository_id: uuid.UUID, number: int = 1, **overrides: Any) -> PullRequest:
    values: dict[str, Any] = {
        "id": new_id(),
        "repository_id": repository_id,
        "number": number,
        "title": "Title",
        "state": PullRequestState.OPEN,
        "author_login": "octocat",
        "head_ref": "topic",
        "head_sha": "abc",
        "base_ref": "main",
        "html_url": None,
        "created_at": T0,
        "updated_at": T0,
        "source_updated_at": T0,
    }
    values.update(overrides)
    return PullRequest(**values)


async def seed_repository(
    uow: UnitOfWork,
    *,
    users: list[tuple[User, Permission]],
    repository: Repository | None = None,
    secret: str | None = SECRET,
    logins: dict[uuid.UUID, str] | None = None,
) -> Repository:
    """Store users, a repository, their access rows, GitHub connections and (optionally) a webhook."""
    repo = repository or make_repository()
    async with uow:
        for user, _permission in users:
            if await uow.users.get(user.id) is None:
                await uow.users.add(user)
            login = (logins or {}).get(user.id, f"user{user.id.hex[-6:]}")
            await uow.github_connections.save(
                GitHubConnection(
                    user_id=user.id,
                    github_user_id=int(user.id.hex[-6:], 16),
                    login=login,
                    sealed_token=BOX.encrypt(f"gho_{login}", context=github_connection_context(user.id)),
                    scopes=("repo",),
                    created_at=T0,
                    updated_at=T0,
                )
            )
        await uow.repositories.add(repo)
        for user, permission in users:
            await uow.repositories.save_access(RepositoryAccess(user.id, repo.id, permission, T0, T0))
        if secret is not None:
            hook_id = new_id()
            await uow.repositories.add_webhook_if_absent(
                RepositoryWebhook(
                    id=hook_id,
                    repository_id=repo.id,
                    sealed_secret=BOX.encrypt(secret, context=webhook_secret_context(hook_id, repo.id)),
                    created_at=T0,
                    host_hook_id=42,
                )
            )
        await uow.commit()
    return repo


def signed(payload: Any, secret: str = SECRET) -> tuple[bytes, str]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, sign(secret, body)


@dataclass
class WebhookWorld:
    """The webhook use case over an in-memory store, with a fixed clock and sequential ids; ``host`` is the
    in-memory GitHub the use case confirms facts with (``seed`` makes the repository visible there to every
    seeded user's token ``gho_<login>``)."""

    store: InMemoryStore = field(default_factory=InMemoryStore)
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    app_secret: str | None = None
    host: InMemoryCodeHost = field(default_factory=InMemoryCodeHost)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def ingest(self) -> IngestGitHubWebhook:
        return IngestGitHubWebhook(
            self.uow(),
            GitHubWebhooks(),
            BOX,
            self.clock,
            SequentialIdGenerator(start=5_000_000),
            CodeHostingConfig(
                webhook_url="https://x.example/api/v1/webhooks/github", app_webhook_secret=self.app_secret
            ),
            self.host,
            UserTokens(self.uow(), BOX, self.host),
        )

    async def deliver(
        self,
        event: str,
        payload: Any,
        *,
        delivery_id: str | None = None,
        secret: str = SECRET,
        signature: str | None = None,
    ) -> WebhookOutcome:
        body, good = signed(payload, secret)
        return await self.ingest()(
            WebhookDelivery(
                event=event,
                delivery_id=delivery_id or str(uuid.uuid4()),
                signature=signature if signature is not None else good,
                body=body,
            )
        )

    async def seed(self, users: list[tuple[User, Permission]] | None = None, **kw: Any) -> Repository:
        users = users or [(make_user(), Permission.ADMIN)]
        repo = await seed_repository(self.uow(), users=users, **kw)
        connections = self.store.state.github_connections
        self.host.add_repository(
            repo.full_name,
            host_id=repo.host_id or 0,
            access={f"gho_{connections[user.id].login}": permission for user, permission in users},
        )
        self.host.logins.update(
            {connections[u.id].login.lower(): f"gho_{connections[u.id].login}" for u, _ in users}
        )
        return repo


def access_token(settings: Any, user: User) -> str:
    """A platform access JWT for ``user`` under ``settings``."""
    from datetime import timedelta

    from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
    from asynccoder.adapters.system.clock import SystemClock

    service = JwtAccessTokenService(
        secret=settings.jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(minutes=15),
    )
    return service.issue(user, now=SystemClock().now()).token


async def in_database(settings: Any, work: Any) -> Any:
    """Run ``await work(uow)`` against the database of ``settings`` (a fresh engine, disposed afterwards)."""
    from asynccoder.adapters.sqlalchemy.database import create_engine
    from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork

    engine = create_engine(settings.database_url)
    try:
        return await work(SqlAlchemyUnitOfWork(engine))
    finally:
        await engine.dispose()


async def add_user_with_github(uow: UnitOfWork, user: User, token: str, login: str) -> None:
    async with uow:
        await uow.users.add(user)
        await uow.github_connections.save(
            GitHubConnection(
                user_id=user.id,
                github_user_id=abs(hash(login)) % 10_000_000,
                login=login,
                sealed_token=BOX.encrypt(token, context=github_connection_context(user.id)),
                scopes=("repo", "admin:repo_hook"),
                created_at=T0,
                updated_at=T0,
            )
        )
        await uow.commit()
