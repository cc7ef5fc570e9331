"""A user's link to their GitHub account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class GitHubConnection:
    """The GitHub identity and OAuth token of one user (at most one connection per user).

    ``sealed_token`` is the access token encrypted by the ``SecretBox`` with the context
    ``github_connection_context(user_id)``; the plaintext token never lives in an entity.
    """

    user_id: UUID
    github_user_id: int
    login: str
    sealed_token: str
    scopes: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


def github_connection_context(user_id: UUID) -> str:
    """Associated data that binds a sealed GitHub token to its owner's row."""
    return f"github_connections.sealed_token:{user_id}"
