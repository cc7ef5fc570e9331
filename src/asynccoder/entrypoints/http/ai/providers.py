"""Provider configurations over HTTP (admin): enable providers and set their endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody

from asynccoder.application.ai.catalogue import (
    ListProviderConfigs,
    UpdateProviderConfig,
    UpdateProviderConfigInput,
)
from asynccoder.domain.ai import Provider
from asynccoder.domain.ai_catalogue import (
    ProviderConfig,
)
from asynccoder.domain.errors import FieldProblem, InvalidInput
from asynccoder.domain.identity import Actor
from asynccoder.domain.model_endpoints import BASE_URL_RULE, MAX_BASE_URL_LENGTH
from asynccoder.entrypoints.http.auth import require_admin
from asynccoder.entrypoints.http.common import (
    ADMIN_ONLY,
    BAD_REQUEST,
    wire,
)


class ProviderConfigOut(msgspec.Struct):
    provider: Provider
    display_name: str
    base_url: str | None
    enabled: bool
    updated_at: datetime


class ProviderConfigListOut(msgspec.Struct):
    items: list[ProviderConfigOut]


BaseUrl = Annotated[str, msgspec.Meta(max_length=MAX_BASE_URL_LENGTH, description=BASE_URL_RULE)]


class ProviderConfigBody(msgspec.Struct, forbid_unknown_fields=True):
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    enabled: bool = True
    base_url: (
        Annotated[str, msgspec.Meta(max_length=MAX_BASE_URL_LENGTH, description=BASE_URL_RULE)] | None
    ) = None


def _config_out(config: ProviderConfig) -> ProviderConfigOut:
    return wire(ProviderConfigOut, config)


class AdminProvidersController(Controller):
    path = "/admin/ai-providers"
    tags = ["admin"]
    guards = [require_admin]

    @get("", operation_id="admin_list_ai_providers", summary="Provider configurations", responses=ADMIN_ONLY)
    @inject
    async def list_providers(
        self, actor: FromDishka[Actor], use_case: FromDishka[ListProviderConfigs]
    ) -> ProviderConfigListOut:
        """Every provider configuration (display name, base URL override, enabled)."""
        return ProviderConfigListOut([_config_out(c) for c in await use_case(actor)])

    @put(
        "/{provider:str}",
        operation_id="admin_put_ai_provider",
        summary="Create or replace a provider configuration",
        responses={**BAD_REQUEST, **ADMIN_ONLY},
    )
    @inject
    async def put_provider(
        self,
        provider: FromPath[str],
        data: JSONBody[ProviderConfigBody],
        actor: FromDishka[Actor],
        use_case: FromDishka[UpdateProviderConfig],
    ) -> ProviderConfigOut:
        """`base_url` overrides the provider's endpoint and is required for `openai_compatible`."""
        try:
            parsed = Provider(provider)
        except ValueError:
            raise InvalidInput(
                "Unknown provider.", problems=[FieldProblem("provider", "is not a known provider")]
            ) from None
        config = await use_case(
            UpdateProviderConfigInput(actor, parsed, data.display_name, data.base_url, data.enabled)
        )
        return _config_out(config)
