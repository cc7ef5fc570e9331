"""HTTP: the model catalogue, model tests, users' own provider keys and usage."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from asynccoder.application.ai_catalogue_use_cases.api_keys import (
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
from asynccoder.application.ai_catalogue_use_cases.catalogue import (
    CreateModel,
    CreateModelInput,
    DeleteModel,
    DeleteModelInput,
    GetModel,
    GetModelInput,
    ListModelPrices,
    ListModelPricesInput,
    ListModels,
    ListModelsInput,
    ListProviderConfigs,
    ModelView,
    PriceValues,
    SetModelPrice,
    SetModelPriceInput,
    UpdateModel,
    UpdateModelInput,
    UpdateProviderConfig,
    UpdateProviderConfigInput,
)
from asynccoder.application.ai_catalogue_use_cases.model_trial import TryModel, TryModelInput
from asynccoder.application.ai_catalogue_use_cases.usage import (
    GetModelUsageStats,
    GetModelUsageStatsInput,
    GetMyUsage,
    GetMyUsageInput,
)
from asynccoder.domain.ai import ModelTier, Provider
from asynccoder.domain.ai_catalogue import (
    ApiKey,
    Capability,
    CatalogueModel,
    ModelPrice,
    ProviderConfig,
    TaskMode,
)
from asynccoder.domain.errors import FieldProblem, InvalidInput
from asynccoder.domain.users import Actor
from asynccoder.entrypoints.http.auth import require_admin
from asynccoder.entrypoints.http.responses import parse_cursor, problem_response

API_PREFIX = "/api/v1"


BAD_REQUEST = {400: problem_response("Invalid input (`validation_failed`)")}
NOT_FOUND = {404: problem_response("No such object, or not the caller's (`not_found` and specific codes)")}
ADMIN_ONLY = {403: problem_response("The caller is not an admin (`forbidden`)")}

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (default 20, max 100)")]
Cursor = Annotated[str | None, QueryParameter(description="`next_cursor` of the previous page")]


# ---- wire structs


class PriceOut(msgspec.Struct):
    """Integer micro-USD (1e-6 USD) per million tokens."""

    effective_from: datetime
    input_micro_usd_per_mtok: int
    output_micro_usd_per_mtok: int
    cache_read_micro_usd_per_mtok: int
    cache_write_micro_usd_per_mtok: int


class ModelOut(msgspec.Struct):
    id: UUID
    provider: Provider
    model_name: str
    display_name: str
    context_window: int
    max_output_tokens: int
    capabilities: list[Capability]
    tier: ModelTier
    enabled: bool
    default_modes: list[TaskMode]
    price: PriceOut | None
    usable: bool
    unusable_reason: str | None
    created_at: datetime
    updated_at: datetime


class ModelPageOut(msgspec.Struct):
    items: list[ModelOut]
    next_cursor: str | None


def _price_out(price: ModelPrice | None) -> PriceOut | None:
    if price is None:
        return None
    return PriceOut(
        effective_from=price.effective_from,
        input_micro_usd_per_mtok=price.input_micro_usd_per_mtok,
        output_micro_usd_per_mtok=price.output_micro_usd_per_mtok,
        cache_read_micro_usd_per_mtok=price.cache_read_micro_usd_per_mtok,
        cache_write_micro_usd_per_mtok=price.cache_write_micro_usd_per_mtok,
    )


def _model_out(
    model: CatalogueModel, price: ModelPrice | None, usable: bool, reason: str | None = None
) -> ModelOut:
    return ModelOut(
        id=model.id,
        provider=model.provider,
        model_name=model.model_name,
        display_name=model.display_name,
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        capabilities=sorted(model.capabilities),
        tier=model.tier,
        enabled=model.enabled,
        default_modes=sorted(model.default_modes),
        price=_price_out(price),
        usable=usable,
        unusable_reason=reason,
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


def _view_out(view: ModelView) -> ModelOut:
    return _model_out(view.model, view.price, view.usable, view.unusable_reason)


class ModelTestBody(msgspec.Struct, forbid_unknown_fields=True):
    model_id: UUID
    use_own_key: bool = False


class ModelTestOut(msgspec.Struct):
    ok: bool
    latency_ms: int
    model: str
    error_code: str | None
    message: str


MicroUsd = Annotated[
    int, msgspec.Meta(ge=0, le=1_000_000_000_000, description="micro-USD per million tokens")
]


class PriceBody(msgspec.Struct, forbid_unknown_fields=True):
    input_micro_usd_per_mtok: MicroUsd
    output_micro_usd_per_mtok: MicroUsd
    cache_read_micro_usd_per_mtok: MicroUsd
    cache_write_micro_usd_per_mtok: MicroUsd
    effective_from: datetime | None = None

    def values(self) -> PriceValues:
        return PriceValues(
            self.input_micro_usd_per_mtok,
            self.output_micro_usd_per_mtok,
            self.cache_read_micro_usd_per_mtok,
            self.cache_write_micro_usd_per_mtok,
        )


Tokens = Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]


class ModelCreateBody(msgspec.Struct, forbid_unknown_fields=True):
    provider: Provider
    model_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    context_window: Tokens
    max_output_tokens: Tokens
    tier: ModelTier
    price: PriceBody
    capabilities: list[Capability] = msgspec.field(default_factory=list)
    enabled: bool = True
    default_modes: list[TaskMode] = msgspec.field(default_factory=list)


class ModelUpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    context_window: Tokens | None = None
    max_output_tokens: Tokens | None = None
    capabilities: list[Capability] | None = None
    tier: ModelTier | None = None
    enabled: bool | None = None
    default_modes: list[TaskMode] | None = None


class PriceHistoryOut(msgspec.Struct):
    items: list[PriceOut]


class ProviderConfigOut(msgspec.Struct):
    provider: Provider
    display_name: str
    base_url: str | None
    enabled: bool
    updated_at: datetime


class ProviderConfigListOut(msgspec.Struct):
    items: list[ProviderConfigOut]


class ProviderConfigBody(msgspec.Struct, forbid_unknown_fields=True):
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    enabled: bool = True
    base_url: Annotated[str, msgspec.Meta(max_length=500)] | None = None


def _config_out(config: ProviderConfig) -> ProviderConfigOut:
    return ProviderConfigOut(
        config.provider, config.display_name, config.base_url, config.enabled, config.updated_at
    )


# ---- models


class ModelsController(Controller):
    path = "/models"
    tags = ["models"]

    @get(
        "",
        operation_id="list_models",
        summary="List catalogued models",
        responses=BAD_REQUEST,
    )
    @inject
    async def list_models(
        self,
        actor: FromDishka[Actor],
        use_case: FromDishka[ListModels],
        provider: FromQuery[Provider | None] = None,
        tier: FromQuery[ModelTier | None] = None,
        capability: FromQuery[Capability | None] = None,
        include_disabled: Annotated[
            bool, QueryParameter(description="Admins only: also list disabled models")
        ] = False,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> ModelPageOut:
        """Enabled models (admins may add disabled ones), newest first, each with its current price and
        whether the caller can use it."""
        page = await use_case(
            ListModelsInput(
                actor=actor,
                provider=provider,
                tier=tier,
                capability=capability,
                include_disabled=include_disabled,
                limit=limit,
                cursor=parse_cursor(cursor),
            )
        )
        return ModelPageOut(
            [_view_out(v) for v in page.items], str(page.next_cursor) if page.next_cursor else None
        )

    @get("/{model_id:uuid}", operation_id="get_model", summary="Get one model", responses=NOT_FOUND)
    @inject
    async def get_model(
        self, model_id: FromPath[UUID], actor: FromDishka[Actor], use_case: FromDishka[GetModel]
    ) -> ModelOut:
        """The model with its current price and whether the caller may use it (`unusable_reason`:
        `model_disabled`, `tier_not_allowed`, `no_provider_key`)."""
        return _view_out(await use_case(GetModelInput(actor, model_id)))

    @post(
        "/test",
        operation_id="test_model",
        summary="Try a model with one minimal call",
        status_code=200,
        responses={
            **BAD_REQUEST,
            **NOT_FOUND,
            422: problem_response("`no_own_key`, `api_key_unreadable` or `platform_key_not_configured`"),
        },
    )
    @inject
    async def test_model(
        self, data: JSONBody[ModelTestBody], actor: FromDishka[Actor], use_case: FromDishka[TryModel]
    ) -> ModelTestOut:
        """One short prompt with a tiny `max_tokens`, with the caller's own key or the platform key.

        A provider failure is a result (`ok: false`, `error_code` such as
        `provider_auth_failed`), not an error."""
        result = await use_case(TryModelInput(actor, data.model_id, data.use_own_key))
        return ModelTestOut(result.ok, result.latency_ms, result.model, result.error_code, result.message)


class AdminModelsController(Controller):
    path = "/admin/models"
    tags = ["admin"]
    guards = [require_admin]

    @post(
        "",
        operation_id="admin_create_model",
        summary="Add a model to the catalogue",
        status_code=HTTP_201_CREATED,
        responses={**BAD_REQUEST, **ADMIN_ONLY, 409: problem_response("`model_exists`")},
    )
    @inject
    async def create(
        self, data: JSONBody[ModelCreateBody], actor: FromDishka[Actor], use_case: FromDishka[CreateModel]
    ) -> Response[ModelOut]:
        """Adds a model with its first price, effective now."""
        view = await use_case(
            CreateModelInput(
                actor=actor,
                provider=data.provider,
                model_name=data.model_name,
                display_name=data.display_name,
                context_window=data.context_window,
                max_output_tokens=data.max_output_tokens,
                capabilities=frozenset(data.capabilities),
                tier=data.tier,
                price=data.price.values(),
                enabled=data.enabled,
                default_modes=frozenset(data.default_modes),
            )
        )
        return Response(
            _view_out(view),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"{API_PREFIX}/models/{view.model.id}"},
        )

    @patch(
        "/{model_id:uuid}",
        operation_id="admin_update_model",
        summary="Change a model",
        responses={**BAD_REQUEST, **ADMIN_ONLY, **NOT_FOUND},
    )
    @inject
    async def update(
        self,
        model_id: FromPath[UUID],
        data: JSONBody[ModelUpdateBody],
        actor: FromDishka[Actor],
        use_case: FromDishka[UpdateModel],
        get_model: FromDishka[GetModel],
    ) -> ModelOut:
        """Changes the given fields; provider and model name are fixed; prices change via `/prices`."""
        await use_case(
            UpdateModelInput(
                actor=actor,
                model_id=model_id,
                display_name=data.display_name,
                context_window=data.context_window,
                max_output_tokens=data.max_output_tokens,
                capabilities=frozenset(data.capabilities) if data.capabilities is not None else None,
                tier=data.tier,
                enabled=data.enabled,
                default_modes=frozenset(data.default_modes) if data.default_modes is not None else None,
            )
        )
        return _view_out(await get_model(GetModelInput(actor, model_id)))

    @delete(
        "/{model_id:uuid}",
        operation_id="admin_delete_model",
        summary="Delete a never-used model",
        status_code=HTTP_204_NO_CONTENT,
        responses={**ADMIN_ONLY, **NOT_FOUND, 409: problem_response("`model_in_use`: disable it instead")},
    )
    @inject
    async def delete_model(
        self, model_id: FromPath[UUID], actor: FromDishka[Actor], use_case: FromDishka[DeleteModel]
    ) -> None:
        """Deletes a model with no recorded usage."""
        await use_case(DeleteModelInput(actor, model_id))

    @get(
        "/{model_id:uuid}/prices",
        operation_id="admin_list_model_prices",
        summary="A model's price history",
        responses={**ADMIN_ONLY, **NOT_FOUND},
    )
    @inject
    async def prices(
        self, model_id: FromPath[UUID], actor: FromDishka[Actor], use_case: FromDishka[ListModelPrices]
    ) -> PriceHistoryOut:
        """Every price row, oldest first (rows are never edited)."""
        prices = await use_case(ListModelPricesInput(actor, model_id))
        return PriceHistoryOut([p for p in (_price_out(x) for x in prices) if p is not None])

    @post(
        "/{model_id:uuid}/prices",
        operation_id="admin_set_model_price",
        summary="Set a new price effective from a time",
        status_code=HTTP_201_CREATED,
        responses={
            **BAD_REQUEST,
            **ADMIN_ONLY,
            **NOT_FOUND,
            409: problem_response("`price_exists`"),
            422: problem_response("`price_backdated`"),
        },
    )
    @inject
    async def set_price(
        self,
        model_id: FromPath[UUID],
        data: JSONBody[PriceBody],
        actor: FromDishka[Actor],
        use_case: FromDishka[SetModelPrice],
    ) -> Response[PriceOut]:
        """Inserts a price row from `effective_from` (default now, never in the past); calls before it keep
        the old price."""
        price = await use_case(SetModelPriceInput(actor, model_id, data.values(), data.effective_from))
        created = _price_out(price)
        assert created is not None  # a price was just inserted
        return Response(
            created,
            status_code=HTTP_201_CREATED,
            headers={"Location": f"{API_PREFIX}/admin/models/{model_id}/prices"},
        )


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
        """`base_url` must be https without credentials (http only on loopback); required for
        `openai_compatible`."""
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
    return ApiKeyOut(
        id=key.id,
        provider=key.provider,
        label=key.label,
        last4=key.last4,
        status=key.status.value,
        monthly_cap_credits=key.monthly_cap_credits,
        created_at=key.created_at,
        updated_at=key.updated_at,
        last_used_at=key.last_used_at,
    )


class ApiKeysController(Controller):
    path = "/api-keys"
    tags = ["api-keys"]

    @get("", operation_id="list_api_keys", summary="Your provider keys", responses=BAD_REQUEST)
    @inject
    async def list_keys(
        self,
        actor: FromDishka[Actor],
        use_case: FromDishka[ListApiKeys],
        limit: Limit = 20,
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


# ---- usage


class ModelDayOut(msgspec.Struct):
    model_id: UUID
    day: date
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_credits: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None


class ModelUsageOut(msgspec.Struct):
    items: list[ModelDayOut]
    next_cursor: str | None = None


class MyUsageDayOut(msgspec.Struct):
    model_id: UUID
    day: date
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_credits: int
    charged_credits: int


class MyUsageOut(msgspec.Struct):
    items: list[MyUsageDayOut]
    next_cursor: str | None = None


FromDate = Annotated[date, QueryParameter(name="from", description="First UTC day (inclusive)")]
ToDate = Annotated[
    date, QueryParameter(name="to", description="Last UTC day (inclusive), at most 366 days later")
]


class AdminUsageController(Controller):
    path = "/admin/usage"
    tags = ["admin"]
    guards = [require_admin]

    @get(
        "/models",
        operation_id="admin_model_usage",
        summary="Model usage per day",
        responses={**BAD_REQUEST, **ADMIN_ONLY},
    )
    @inject
    async def admin_model_usage(
        self,
        actor: FromDishka[Actor],
        use_case: FromDishka[GetModelUsageStats],
        from_: FromDate,
        to: ToDate,
        model_id: FromQuery[UUID | None] = None,
    ) -> ModelUsageOut:
        """Calls, tokens, cost, errors and latency p50/p95 per model and day.

        Latency percentiles are the upper bounds of histogram buckets (an upper estimate)."""
        rows = await use_case(GetModelUsageStatsInput(actor.is_admin, from_, to, model_id))
        return ModelUsageOut(
            [
                ModelDayOut(
                    model_id=r.model_id,
                    day=r.day,
                    calls=r.calls,
                    errors=r.errors,
                    input_tokens=r.input_tokens,
                    output_tokens=r.output_tokens,
                    cache_read_tokens=r.cache_read_tokens,
                    cache_write_tokens=r.cache_write_tokens,
                    cost_credits=r.cost_credits,
                    latency_p50_ms=r.latency_p50_ms,
                    latency_p95_ms=r.latency_p95_ms,
                )
                for r in rows
            ]
        )


class UserUsageController(Controller):
    path = "/users"
    tags = ["usage"]

    @get(
        "/usage",
        operation_id="my_model_usage",
        summary="Your model usage per day",
        responses=BAD_REQUEST,
    )
    @inject
    async def my_usage(
        self, actor: FromDishka[Actor], use_case: FromDishka[GetMyUsage], from_: FromDate, to: ToDate
    ) -> MyUsageOut:
        """Your calls per model and UTC day: tokens, what they cost, and the platform credits charged (zero on
        your own keys)."""
        rows = await use_case(GetMyUsageInput(actor.user_id, from_, to))
        return MyUsageOut(
            [
                MyUsageDayOut(
                    r.model_id,
                    r.day,
                    r.calls,
                    r.errors,
                    r.input_tokens,
                    r.output_tokens,
                    r.cost_credits,
                    r.charged_credits,
                )
                for r in rows
            ]
        )


AI_CATALOGUE_HANDLERS = [
    ModelsController,
    AdminModelsController,
    AdminProvidersController,
    ApiKeysController,
    AdminUsageController,
    UserUsageController,
]
