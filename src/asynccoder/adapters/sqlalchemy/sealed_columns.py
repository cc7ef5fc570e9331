"""Every column that holds a ``SecretBox`` ciphertext, for key rotation.

A feature that stores sealed secrets registers its column here with the function that rebuilds the
ciphertext's context (associated data) from the row, so ``asynccoder rotate-keys`` can re-encrypt it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from asynccoder.adapters.sqlalchemy.ai_tables import api_keys
from asynccoder.adapters.sqlalchemy.code_hosting_tables import repository_webhooks
from asynccoder.adapters.sqlalchemy.tables import github_connections
from asynccoder.adapters.sqlalchemy.webhook_endpoints_tables import webhook_endpoints
from asynccoder.domain.ai_catalogue import api_key_context
from asynccoder.domain.code_hosting import github_connection_context, webhook_secret_context
from asynccoder.domain.webhook_endpoints import webhook_endpoint_secret_context


@dataclass(frozen=True, slots=True)
class SealedColumn:
    table: sa.Table
    key_column: str
    sealed_column: str
    context: Callable[[Any], str]


SEALED_COLUMNS: list[SealedColumn] = [
    SealedColumn(
        github_connections, "user_id", "sealed_token", lambda row: github_connection_context(row.user_id)
    ),
    SealedColumn(api_keys, "id", "sealed_key", lambda row: api_key_context(row.id, row.user_id)),
    SealedColumn(
        repository_webhooks,
        "id",
        "sealed_secret",
        lambda row: webhook_secret_context(row.id, row.repository_id),
    ),
    SealedColumn(
        webhook_endpoints,
        "id",
        "sealed_secret",
        lambda row: webhook_endpoint_secret_context(row.id, row.user_id),
    ),
    SealedColumn(
        webhook_endpoints,
        "id",
        "sealed_previous_secret",
        lambda row: webhook_endpoint_secret_context(row.id, row.user_id),
    ),
]
