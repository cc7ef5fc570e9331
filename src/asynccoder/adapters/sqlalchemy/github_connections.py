"""SQLAlchemy repository of GitHub connections."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from asynccoder.adapters.sqlalchemy.tables import github_connections
from asynccoder.application.users.ports import GitHubConnectionRepository
from asynccoder.domain.github_connection import GitHubConnection


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
