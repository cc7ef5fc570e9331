"""SQLAlchemy repositories for connected repositories, pull requests, webhook deliveries and the outbox.

Writes that race (webhook deliveries, pull-request snapshots, the one webhook per repository) are single
``INSERT ... ON CONFLICT`` statements, correct on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from asynccoder.adapters.sqlalchemy.code_hosting_tables import (
    github_deliveries,
    pull_request_comments,
    pull_request_reviews,
    pull_requests,
    repositories,
    repository_events,
    repository_webhooks,
    user_repository_access,
)
from asynccoder.adapters.sqlalchemy.dialect import insert_on_conflict
from asynccoder.adapters.sqlalchemy.errors import constraint_name
from asynccoder.adapters.sqlalchemy.tables import github_connections
from asynccoder.application.ports.code_hosting import (
    AccessibleRepository,
    GitHubConnectionRepository,
    GitHubDeliveryRepository,
    PullRequestRepository,
    RepositoryEventRepository,
    RepositoryRepository,
)
from asynccoder.domain.code_hosting import (
    CommentKind,
    GitHubConnection,
    Permission,
    PullRequest,
    PullRequestComment,
    PullRequestReview,
    PullRequestState,
    Repository,
    RepositoryAccess,
    RepositoryEvent,
    RepositoryWebhook,
    Visibility,
)
from asynccoder.domain.errors import Conflict


def _repository(row: Any) -> Repository:
    return Repository(
        id=row.id,
        host=row.host,
        host_id=row.host_id,
        full_name=row.full_name,
        default_branch=row.default_branch,
        visibility=Visibility(row.visibility),
        html_url=row.html_url,
        clone_url=row.clone_url,
        auto_review=row.auto_review,
        default_model_id=row.default_model_id,
        default_base_branch=row.default_base_branch,
        test_command=row.test_command,
        head_sha=row.head_sha,
        last_pushed_at=row.last_pushed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _repository_row(repo: Repository) -> dict[str, Any]:
    return {
        "id": repo.id,
        "host": repo.host,
        "host_id": repo.host_id,
        "full_name": repo.full_name,
        "default_branch": repo.default_branch,
        "visibility": repo.visibility.value,
        "html_url": repo.html_url,
        "clone_url": repo.clone_url,
        "auto_review": repo.auto_review,
        "default_model_id": repo.default_model_id,
        "default_base_branch": repo.default_base_branch,
        "test_command": repo.test_command,
        "head_sha": repo.head_sha,
        "last_pushed_at": repo.last_pushed_at,
        "created_at": repo.created_at,
        "updated_at": repo.updated_at,
    }


def _access(row: Any) -> RepositoryAccess:
    return RepositoryAccess(
        user_id=row.user_id,
        repository_id=row.repository_id,
        permission=Permission(row.permission),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _webhook(row: Any) -> RepositoryWebhook:
    return RepositoryWebhook(
        id=row.id,
        repository_id=row.repository_id,
        sealed_secret=row.sealed_secret,
        created_at=row.created_at,
        host_hook_id=row.host_hook_id,
    )


class SqlAlchemyRepositoryRepository(RepositoryRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, repository: Repository) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(repositories.insert().values(**_repository_row(repository)))
        except IntegrityError as exc:
            if (constraint_name(exc) or "").startswith(("uq_repositories", "pk_repositories")):
                raise Conflict("This repository is already connected.", code="repository_exists") from None
            raise

    async def get(self, repository_id: UUID) -> Repository | None:
        row = (
            await self._conn.execute(repositories.select().where(repositories.c.id == repository_id))
        ).first()
        return _repository(row) if row else None

    async def find(self, host: str, host_id: int | None, full_name: str) -> Repository | None:
        if host_id is not None:
            row = (
                await self._conn.execute(
                    repositories.select().where(
                        repositories.c.host == host, repositories.c.host_id == host_id
                    )
                )
            ).first()
            if row:
                return _repository(row)
        row = (
            await self._conn.execute(
                repositories.select().where(
                    repositories.c.host == host, sa.func.lower(repositories.c.full_name) == full_name.lower()
                )
            )
        ).first()
        return _repository(row) if row else None

    async def update(self, repository: Repository) -> None:
        values = _repository_row(repository)
        del values["id"], values["created_at"]
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    repositories.update().where(repositories.c.id == repository.id).values(**values)
                )
        except IntegrityError as exc:
            if (constraint_name(exc) or "").startswith("uq_repositories"):
                raise Conflict(
                    "Another repository already has this name.", code="repository_exists"
                ) from None
            raise

    async def record_push(self, repository_id: UUID, head_sha: str, pushed_at: datetime) -> bool:
        result = await self._conn.execute(
            repositories.update()
            .where(
                repositories.c.id == repository_id,
                sa.or_(repositories.c.last_pushed_at.is_(None), repositories.c.last_pushed_at <= pushed_at),
            )
            .values(head_sha=head_sha, last_pushed_at=pushed_at)
        )
        return bool(result.rowcount)

    async def save_access(self, access: RepositoryAccess) -> None:
        stmt = insert_on_conflict(self._conn, user_repository_access).values(
            user_id=access.user_id,
            repository_id=access.repository_id,
            permission=access.permission.value,
            created_at=access.created_at,
            updated_at=access.updated_at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "repository_id"],
            set_={"permission": stmt.excluded.permission, "updated_at": stmt.excluded.updated_at},
        )
        await self._conn.execute(stmt)

    async def get_access(self, user_id: UUID, repository_id: UUID) -> RepositoryAccess | None:
        row = (
            await self._conn.execute(
                user_repository_access.select().where(
                    user_repository_access.c.user_id == user_id,
                    user_repository_access.c.repository_id == repository_id,
                )
            )
        ).first()
        return _access(row) if row else None

    async def list_access(self, repository_id: UUID) -> list[RepositoryAccess]:
        rows = await self._conn.execute(
            user_repository_access.select()
            .where(user_repository_access.c.repository_id == repository_id)
            .order_by(user_repository_access.c.user_id)
        )
        return [_access(row) for row in rows]

    async def delete_access(self, user_id: UUID, repository_id: UUID) -> bool:
        result = await self._conn.execute(
            user_repository_access.delete().where(
                user_repository_access.c.user_id == user_id,
                user_repository_access.c.repository_id == repository_id,
            )
        )
        return bool(result.rowcount)

    async def delete_all_access(self, repository_id: UUID) -> int:
        result = await self._conn.execute(
            user_repository_access.delete().where(user_repository_access.c.repository_id == repository_id)
        )
        return int(result.rowcount or 0)

    async def list_for_user(
        self, user_id: UUID, *, limit: int, before: UUID | None
    ) -> list[AccessibleRepository]:
        query = (
            sa.select(
                repositories,
                user_repository_access.c.permission.label("access_permission"),
                sa.exists()
                .where(repository_webhooks.c.repository_id == repositories.c.id)
                .label("has_webhook"),
            )
            .join(user_repository_access, user_repository_access.c.repository_id == repositories.c.id)
            .where(user_repository_access.c.user_id == user_id)
            .order_by(repositories.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(repositories.c.id < before)
        rows = await self._conn.execute(query)
        return [
            AccessibleRepository(_repository(row), Permission(row.access_permission), bool(row.has_webhook))
            for row in rows
        ]

    async def add_webhook_if_absent(self, webhook: RepositoryWebhook) -> bool:
        stmt = (
            insert_on_conflict(self._conn, repository_webhooks)
            .values(
                id=webhook.id,
                repository_id=webhook.repository_id,
                host_hook_id=webhook.host_hook_id,
                sealed_secret=webhook.sealed_secret,
                created_at=webhook.created_at,
            )
            .on_conflict_do_nothing(index_elements=["repository_id"])
            .returning(repository_webhooks.c.id)
        )
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
        return (await self._conn.execute(stmt)).first() is not None

    async def get_webhook(self, repository_id: UUID) -> RepositoryWebhook | None:
        row = (
            await self._conn.execute(
                repository_webhooks.select().where(repository_webhooks.c.repository_id == repository_id)
            )
        ).first()
        return _webhook(row) if row else None

    async def set_webhook_host_id(self, webhook_id: UUID, host_hook_id: int | None) -> None:
        await self._conn.execute(
            repository_webhooks.update()
            .where(repository_webhooks.c.id == webhook_id)
            .values(host_hook_id=host_hook_id)
        )

    async def delete_webhook(self, repository_id: UUID) -> RepositoryWebhook | None:
        row = (
            await self._conn.execute(
                repository_webhooks.delete()
                .where(repository_webhooks.c.repository_id == repository_id)
                .returning(*repository_webhooks.c)
            )
        ).first()
        return _webhook(row) if row else None


def _pull_request(row: Any) -> PullRequest:
    return PullRequest(
        id=row.id,
        repository_id=row.repository_id,
        number=row.number,
        title=row.title,
        body=row.body,
        state=PullRequestState(row.state),
        author_login=row.author_login,
        head_ref=row.head_ref,
        head_sha=row.head_sha,
        base_ref=row.base_ref,
        html_url=row.html_url,
        draft=row.draft,
        opened_by_platform=row.opened_by_platform,
        merged_at=row.merged_at,
        closed_at=row.closed_at,
        source_updated_at=row.source_updated_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _review(row: Any) -> PullRequestReview:
    return PullRequestReview(
        id=row.id,
        pull_request_id=row.pull_request_id,
        host_review_id=row.host_review_id,
        author_login=row.author_login,
        state=row.state,
        body=row.body,
        commit_sha=row.commit_sha,
        submitted_at=row.submitted_at,
        by_platform=row.by_platform,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _comment(row: Any) -> PullRequestComment:
    return PullRequestComment(
        id=row.id,
        pull_request_id=row.pull_request_id,
        kind=CommentKind(row.kind),
        host_comment_id=row.host_comment_id,
        author_login=row.author_login,
        body=row.body,
        path=row.path,
        line=row.line,
        side=row.side,
        start_line=row.start_line,
        review_id=row.review_id,
        deleted=row.deleted,
        by_platform=row.by_platform,
        source_updated_at=row.source_updated_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlAlchemyPullRequestRepository(PullRequestRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def upsert(self, pull_request: PullRequest) -> PullRequest:
        values = {
            "id": pull_request.id,
            "repository_id": pull_request.repository_id,
            "number": pull_request.number,
            "title": pull_request.title,
            "body": pull_request.body,
            "state": pull_request.state.value,
            "author_login": pull_request.author_login,
            "head_ref": pull_request.head_ref,
            "head_sha": pull_request.head_sha,
            "base_ref": pull_request.base_ref,
            "html_url": pull_request.html_url,
            "draft": pull_request.draft,
            "opened_by_platform": pull_request.opened_by_platform,
            "merged_at": pull_request.merged_at,
            "closed_at": pull_request.closed_at,
            "source_updated_at": pull_request.source_updated_at,
            "created_at": pull_request.created_at,
            "updated_at": pull_request.updated_at,
        }
        stmt = insert_on_conflict(self._conn, pull_requests).values(**values)
        excluded = stmt.excluded
        update = {
            k: excluded[k]
            for k in values
            if k not in {"id", "repository_id", "number", "created_at", "opened_by_platform"}
        }
        update["opened_by_platform"] = sa.or_(pull_requests.c.opened_by_platform, excluded.opened_by_platform)
        stmt = stmt.on_conflict_do_update(
            index_elements=["repository_id", "number"],
            set_=update,
            where=sa.or_(
                pull_requests.c.source_updated_at.is_(None),
                sa.and_(
                    excluded.source_updated_at.is_not(None),
                    pull_requests.c.source_updated_at <= excluded.source_updated_at,
                ),
            ),
        )
        await self._conn.execute(stmt)
        stored = await self.get_by_number(pull_request.repository_id, pull_request.number)
        assert stored is not None
        return stored

    async def get(self, pull_request_id: UUID) -> PullRequest | None:
        row = (
            await self._conn.execute(pull_requests.select().where(pull_requests.c.id == pull_request_id))
        ).first()
        return _pull_request(row) if row else None

    async def get_by_number(self, repository_id: UUID, number: int) -> PullRequest | None:
        row = (
            await self._conn.execute(
                pull_requests.select().where(
                    pull_requests.c.repository_id == repository_id, pull_requests.c.number == number
                )
            )
        ).first()
        return _pull_request(row) if row else None

    async def list_for_repository(
        self, repository_id: UUID, *, state: PullRequestState | None, limit: int, before: UUID | None
    ) -> list[PullRequest]:
        query = (
            pull_requests.select()
            .where(pull_requests.c.repository_id == repository_id)
            .order_by(pull_requests.c.id.desc())
            .limit(limit)
        )
        if state is not None:
            query = query.where(pull_requests.c.state == state.value)
        if before is not None:
            query = query.where(pull_requests.c.id < before)
        return [_pull_request(row) for row in await self._conn.execute(query)]

    async def upsert_review(self, review: PullRequestReview) -> None:
        values = {
            "id": review.id,
            "pull_request_id": review.pull_request_id,
            "host_review_id": review.host_review_id,
            "author_login": review.author_login,
            "state": review.state,
            "body": review.body,
            "commit_sha": review.commit_sha,
            "submitted_at": review.submitted_at,
            "by_platform": review.by_platform,
            "created_at": review.created_at,
            "updated_at": review.updated_at,
        }
        stmt = insert_on_conflict(self._conn, pull_request_reviews).values(**values)
        excluded = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["pull_request_id", "host_review_id"],
            set_={
                k: excluded[k]
                for k in ("author_login", "state", "body", "commit_sha", "submitted_at", "updated_at")
            },
            # Dismissal is final: a late "submitted" delivery cannot revive a dismissed review.
            where=sa.or_(pull_request_reviews.c.state != "dismissed", excluded.state == "dismissed"),
        )
        await self._conn.execute(stmt)

    async def list_reviews(self, pull_request_id: UUID) -> list[PullRequestReview]:
        rows = await self._conn.execute(
            pull_request_reviews.select()
            .where(pull_request_reviews.c.pull_request_id == pull_request_id)
            .order_by(pull_request_reviews.c.id)
        )
        return [_review(row) for row in rows]

    async def upsert_comment(self, comment: PullRequestComment) -> None:
        values = {
            "id": comment.id,
            "pull_request_id": comment.pull_request_id,
            "kind": comment.kind.value,
            "host_comment_id": comment.host_comment_id,
            "author_login": comment.author_login,
            "body": comment.body,
            "path": comment.path,
            "line": comment.line,
            "side": comment.side,
            "start_line": comment.start_line,
            "review_id": comment.review_id,
            "deleted": comment.deleted,
            "by_platform": comment.by_platform,
            "source_updated_at": comment.source_updated_at,
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
        }
        stmt = insert_on_conflict(self._conn, pull_request_comments).values(**values)
        excluded = stmt.excluded
        table = pull_request_comments.c
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "host_comment_id"],
            set_={
                k: excluded[k]
                for k in (
                    "author_login",
                    "body",
                    "path",
                    "line",
                    "side",
                    "start_line",
                    "deleted",
                    "source_updated_at",
                    "updated_at",
                )
            },
            where=sa.and_(
                table.deleted.is_(False),
                sa.or_(
                    excluded.deleted.is_(True),
                    table.source_updated_at.is_(None),
                    excluded.source_updated_at.is_(None),
                    table.source_updated_at <= excluded.source_updated_at,
                ),
            ),
        )
        await self._conn.execute(stmt)

    async def list_comments(self, pull_request_id: UUID) -> list[PullRequestComment]:
        rows = await self._conn.execute(
            pull_request_comments.select()
            .where(pull_request_comments.c.pull_request_id == pull_request_id)
            .order_by(pull_request_comments.c.id)
        )
        return [_comment(row) for row in rows]


class SqlAlchemyGitHubDeliveryRepository(GitHubDeliveryRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def record(self, delivery_id: str, event: str, received_at: datetime) -> bool:
        stmt = (
            insert_on_conflict(self._conn, github_deliveries)
            .values(delivery_id=delivery_id, event=event, received_at=received_at)
            .on_conflict_do_nothing(index_elements=["delivery_id"])
            .returning(github_deliveries.c.delivery_id)
        )
        return (await self._conn.execute(stmt)).first() is not None

    async def seen(self, delivery_id: str) -> bool:
        column = github_deliveries.c.delivery_id
        query = sa.select(column).where(column == delivery_id)
        return (await self._conn.execute(query)).first() is not None

    async def delete_received_before(self, cutoff: datetime, *, limit: int) -> int:
        oldest = (
            sa.select(github_deliveries.c.delivery_id)
            .where(github_deliveries.c.received_at < cutoff)
            .order_by(github_deliveries.c.received_at)
            .limit(limit)
        )
        result = await self._conn.execute(
            github_deliveries.delete().where(github_deliveries.c.delivery_id.in_(oldest.scalar_subquery()))
        )
        return int(result.rowcount or 0)


def _event(row: Any) -> RepositoryEvent:
    return RepositoryEvent(
        id=row.id,
        repository_id=row.repository_id,
        pull_request_id=row.pull_request_id,
        kind=row.kind,
        payload=dict(row.payload or {}),
        created_at=row.created_at,
        processed_at=row.processed_at,
    )


class SqlAlchemyRepositoryEventRepository(RepositoryEventRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, event: RepositoryEvent) -> None:
        await self._conn.execute(
            repository_events.insert().values(
                id=event.id,
                repository_id=event.repository_id,
                pull_request_id=event.pull_request_id,
                kind=event.kind,
                payload=dict(event.payload),
                created_at=event.created_at,
                processed_at=event.processed_at,
            )
        )

    async def list_pending(self, *, limit: int) -> list[RepositoryEvent]:
        rows = await self._conn.execute(
            repository_events.select()
            .where(repository_events.c.processed_at.is_(None))
            .order_by(repository_events.c.id)
            .limit(limit)
        )
        return [_event(row) for row in rows]

    async def get(self, event_id: UUID) -> RepositoryEvent | None:
        row = (
            await self._conn.execute(repository_events.select().where(repository_events.c.id == event_id))
        ).first()
        return _event(row) if row is not None else None

    async def mark_processed(
        self, event_id: UUID, processed_at: datetime, *, payload: dict[str, str] | None = None
    ) -> bool:
        values: dict[str, Any] = {"processed_at": processed_at}
        if payload is not None:
            values["payload"] = dict(payload)
        result = await self._conn.execute(
            repository_events.update()
            .where(repository_events.c.id == event_id, repository_events.c.processed_at.is_(None))
            .values(**values)
        )
        return bool(result.rowcount)


def _to_entity(row: Any) -> GitHubConnection:
    return GitHubConnection(
        user_id=row.user_id,
        github_user_id=row.github_user_id,
        login=row.login,
        sealed_token=row.sealed_token,
        scopes=tuple(s for s in row.scopes.split(",") if s),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlAlchemyGitHubConnectionRepository(GitHubConnectionRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def save(self, connection: GitHubConnection) -> None:
        values = {
            "github_user_id": connection.github_user_id,
            "login": connection.login,
            "sealed_token": connection.sealed_token,
            "scopes": ",".join(connection.scopes),
            "updated_at": connection.updated_at,
        }
        updated = await self._conn.execute(
            github_connections.update()
            .where(github_connections.c.user_id == connection.user_id)
            .values(**values)
        )
        if updated.rowcount == 0:
            await self._conn.execute(
                github_connections.insert().values(
                    user_id=connection.user_id, created_at=connection.created_at, **values
                )
            )

    async def get(self, user_id: UUID) -> GitHubConnection | None:
        row = (
            await self._conn.execute(
                github_connections.select().where(github_connections.c.user_id == user_id)
            )
        ).first()
        return _to_entity(row) if row else None

    async def delete(self, user_id: UUID) -> bool:
        result = await self._conn.execute(
            github_connections.delete().where(github_connections.c.user_id == user_id)
        )
        return bool(result.rowcount)
