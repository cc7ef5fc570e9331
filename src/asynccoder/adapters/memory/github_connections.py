"""In-memory repository of GitHub connections."""

from __future__ import annotations

import dataclasses
from uuid import UUID

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.application.users.ports import GitHubConnectionRepository
from asynccoder.domain.github_connection import GitHubConnection


class InMemoryGitHubConnectionRepository(GitHubConnectionRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def save(self, connection: GitHubConnection) -> None:
        existing = self._store.state.github_connections.get(connection.user_id)
        if existing is not None:
            connection = dataclasses.replace(connection, created_at=existing.created_at)
        self._store.state.github_connections[connection.user_id] = connection

    async def get(self, user_id: UUID) -> GitHubConnection | None:
        return self._store.state.github_connections.get(user_id)

    async def delete(self, user_id: UUID) -> bool:
        return self._store.state.github_connections.pop(user_id, None) is not None
