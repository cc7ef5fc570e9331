"""Users' own provider keys over HTTP: list, add (validated with the provider), show, replace, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from asynccoder.application.ai.api_keys import (
    CreateApiKey,
    CreateApiKeyInput,
    DeleteApiKey,
    DeleteApiKeyInput,
    GetApiKey,
    GetApiKeyInput,
    ListApiKeys,
    ListApiKeysInput,
    UpdateApiKey,
    UpdateApiKeyInput,
)
from asynccoder.application.shared import DEFAULT_PAGE_SIZE
from asynccoder.domain.ai import Provider
from asynccoder.domain.ai_catalogue import (
    ApiKey,
)
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.common import (
    API_PREFIX,
    BAD_REQUEST,
    NOT_FOUND,
    Cursor,
    Limit,
    parse_cursor,
    problem_response,
    wire,
)

# ---- own keys


class ApiKeyOut(msgspec.Struct):
    """A stored provider key: never the key itself, only its last 4 characters."""

    id: UUID
    provider: Provider
    label: str
    last4: str
    status: str
    monthly_cap_credits: int | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None


class ApiKeyPageOut(msgspec.Struct):
    items: list[ApiKeyOut]
    next_cursor: str | None


ProviderKey = Annotated[str, msgspec.Meta(min_length=8, max_length=512)]
Label = Annotated[str, msgspec.Meta(max_length=100)]
Credits = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000_000)]


class ApiKeyCreateBody(msgspec.Struct, forbid_unknown_fields=True):
    provider: Provider
    key: ProviderKey
    label: Label = ""
    monthly_cap_credits: Credits | None = None
    validate: bool = False


class ApiKeyUpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    key: ProviderKey | None = None
    label: Label | None = None
    monthly_cap_credits: Credits | None = None
    clear_monthly_cap: bool = False
    validate: bool = False


def _key_out(key: ApiKey) -> ApiKeyOut:
    return wire(ApiKeyOut, key, status=key.status.value)


class ApiKeysController(Controller):
    path = "/api-keys"
    tags = ["api-keys"]

    @get("", operation_id="list_api_keys", summary="Your provider keys", responses=BAD_REQUEST)
    @inject
    async def list_keys(
        self,
        actor: FromDishka[Actor],
        use_case: FromDishka[ListApiKeys],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> ApiKeyPageOut:
        """The caller's own keys, newest first (provider, label, last 4 characters)."""
        page = await use_case(ListApiKeysInput(actor, limit, parse_cursor(cursor)))
        return ApiKeyPageOut(
            [_key_out(k) for k in page.items], str(page.next_cursor) if page.next_cursor else None
        )

    @post(
        "",
        operation_id="create_api_key",
        summary="Store your own provider key",
        status_code=HTTP_201_CREATED,
        responses={
            **BAD_REQUEST,
            409: problem_response("`api_key_exists`: one key per provider; replace it with PUT"),
            422: problem_response("`api_key_invalid`: the validation call failed; nothing was stored"),
        },
    )
    @inject
    async def create_key(
        self, data: JSONBody[ApiKeyCreateBody], actor: FromDishka[Actor], use_case: FromDishka[CreateApiKey]
    ) -> Response[ApiKeyOut]:
        """Encrypts and stores the key (one per provider); `validate: true` checks it with a minimal call.

        Calls on your own key charge no platform credits for tokens; `monthly_cap_credits` caps what they may
        cost per month, after which the platform key (and credits) are used."""
        key = await use_case(
            CreateApiKeyInput(
                actor=actor,
                provider=data.provider,
                key=data.key,
                label=data.label,
                monthly_cap_credits=data.monthly_cap_credits,
                validate=data.validate,
            )
        )
        return Response(
            _key_out(key),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"{API_PREFIX}/api-keys/{key.id}"},
        )

    @get("/{key_id:uuid}", operation_id="get_api_key", summary="One of your keys", responses=NOT_FOUND)
    @inject
    async def get_key(
        self, key_id: FromPath[UUID], actor: FromDishka[Actor], use_case: FromDishka[GetApiKey]
    ) -> ApiKeyOut:
        """Provider, label, last 4 characters, status, cap and last use."""
        return _key_out(await use_case(GetApiKeyInput(actor, key_id)))

    @put(
        "/{key_id:uuid}",
        operation_id="update_api_key",
        summary="Change one of your keys",
        responses={**BAD_REQUEST, **NOT_FOUND, 422: problem_response("`api_key_invalid`")},
    )
    @inject
    async def update_key(
        self,
        key_id: FromPath[UUID],
        data: JSONBody[ApiKeyUpdateBody],
        actor: FromDishka[Actor],
        use_case: FromDishka[UpdateApiKey],
    ) -> ApiKeyOut:
        """Replaces the key, label or cap (`clear_monthly_cap: true` removes the cap)."""
        key = await use_case(
            UpdateApiKeyInput(
                actor=actor,
                key_id=key_id,
                key=data.key,
                label=data.label,
                monthly_cap_credits=data.monthly_cap_credits,
                clear_cap=data.clear_monthly_cap,
                validate=data.validate,
            )
        )
        return _key_out(key)

    @delete(
        "/{key_id:uuid}",
        operation_id="delete_api_key",
        summary="Delete one of your keys",
        status_code=HTTP_204_NO_CONTENT,
        responses=NOT_FOUND,
    )
    @inject
    async def delete_key(
        self, key_id: FromPath[UUID], actor: FromDishka[Actor], use_case: FromDishka[DeleteApiKey]
    ) -> None:
        """Deletes the key; its usage history stays."""
        await use_case(DeleteApiKeyInput(actor, key_id))
