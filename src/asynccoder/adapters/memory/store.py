"""Shared in-memory state with serializable transactions."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from asynccoder.adapters.memory.ai_catalogue_state import AiCatalogueState
from asynccoder.adapters.memory.billing_state import BillingState
from asynccoder.adapters.memory.code_hosting_state import CodeHostingState
from asynccoder.domain.credentials import OAuthState, PersonalAccessToken, RefreshToken
from asynccoder.domain.github_connection import GitHubConnection
from asynccoder.domain.users import User


@dataclass
class MemoryState:
    """Everything the in-memory adapters store. Add a field per aggregate."""

    users: dict[UUID, User] = field(default_factory=dict)
    github_connections: dict[UUID, GitHubConnection] = field(default_factory=dict)
    refresh_tokens: dict[UUID, RefreshToken] = field(default_factory=dict)
    personal_access_tokens: dict[UUID, PersonalAccessToken] = field(default_factory=dict)
    oauth_states: dict[UUID, OAuthState] = field(default_factory=dict)
    ai_catalogue: AiCatalogueState = field(default_factory=AiCatalogueState)
    billing: BillingState = field(default_factory=BillingState)
    code_hosting: CodeHostingState = field(default_factory=CodeHostingState)
    extra: dict[str, Any] = field(default_factory=dict)


class InMemoryStore:
    """Holds a ``MemoryState``; transactions run one at a time (serializable) and roll back by snapshot."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = asyncio.Lock()

    def snapshot(self) -> MemoryState:
        return copy.deepcopy(self.state)

    def restore(self, snapshot: MemoryState) -> None:
        self.state = snapshot
