"""The model catalogue over HTTP: browsing and trying models; admins create, change, price and delete them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from asynccoder.application.ai.catalogue import (
    UNCHANGED,
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
    ModelView,
    PriceValues,
    SetModelPrice,
    SetModelPriceInput,
    UpdateModel,
    UpdateModelInput,
)
from asynccoder.application.ai.model_trial import (
    TryModel,
    TryModelInput,
)
from asynccoder.application.shared import DEFAULT_PAGE_SIZE
from asynccoder.domain.ai import ModelTier, Provider
from asynccoder.domain.ai_catalogue import (
    Capability,
    CatalogueModel,
    ModelPrice,
    TaskMode,
)
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.auth import require_admin
from asynccoder.entrypoints.http.common import (
    ADMIN_ONLY,
    API_PREFIX,
    BAD_REQUEST,
    NOT_FOUND,
    Cursor,
    Limit,
    ModelRetiredProblem,
    parse_cursor,
    problem_response,
    wire,
)

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
    deprecated_on: date | None
    retires_on: date | None
    replacement_model_id: UUID | None


class ModelPageOut(msgspec.Struct):
    items: list[ModelOut]
    next_cursor: str | None


def _price_out(price: ModelPrice | None) -> PriceOut | None:
    if price is None:
        return None
    return wire(PriceOut, price)


def _model_out(
    model: CatalogueModel, price: ModelPrice | None, usable: bool, reason: str | None = None
) -> ModelOut:
    return wire(
        ModelOut,
        model,
        capabilities=sorted(model.capabilities),
        default_modes=sorted(model.default_modes),
        price=_price_out(price),
        usable=usable,
        unusable_reason=reason,
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
    charged_credits: int  # what the test cost on the platform key; 0 on the caller's own key


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
    deprecated_on: date | None = None
    retires_on: date | None = None
    replacement_model_id: UUID | None = None


class ModelUpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields sent change; `null` clears `deprecated_on`, `retires_on` or `replacement_model_id`."""

    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    context_window: Tokens | None = None
    max_output_tokens: Tokens | None = None
    capabilities: list[Capability] | None = None
    tier: ModelTier | None = None
    enabled: bool | None = None
    default_modes: list[TaskMode] | None = None
    deprecated_on: date | msgspec.UnsetType | None = msgspec.UNSET
    retires_on: date | msgspec.UnsetType | None = msgspec.UNSET
    replacement_model_id: UUID | msgspec.UnsetType | None = msgspec.UNSET


def _kept(value: Any) -> Any:
    """An unsent lifecycle field keeps its value."""
    return UNCHANGED if value is msgspec.UNSET else value


class PriceHistoryOut(msgspec.Struct):
    items: list[PriceOut]


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
        limit: Limit = DEFAULT_PAGE_SIZE,
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
            402: problem_response(
                "Not enough credits for a test on the platform key (`insufficient_credits`)"
            ),
            422: problem_response(
                "`model_retired` (the model is past its retirement date; `replacement_model_id` is the "
                "suggested model, or `null`), `tier_not_allowed`, `no_own_key`, `api_key_unreadable` or "
                "`platform_key_not_configured`",
                ModelRetiredProblem,
            ),
        },
    )
    @inject
    async def test_model(
        self, data: JSONBody[ModelTestBody], actor: FromDishka[Actor], use_case: FromDishka[TryModel]
    ) -> ModelTestOut:
        """One short prompt with a tiny `max_tokens`, with the caller's own key or the platform key.

        Only models of the tiers the caller's plan includes (`tier_not_allowed`). On the platform key the test
        is paid like any call (usually 1 credit; 402 `insufficient_credits` when not even that is available)
        and recorded in usage; an own key the provider refuses is marked invalid. A provider failure is a
        result (`ok: false`, `error_code` such as `provider_auth_failed`), not an error."""
        result = await use_case(TryModelInput(actor, data.model_id, data.use_own_key))
        return wire(ModelTestOut, result)


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
        """Adds a model with its first price, effective now. `retires_on` may not be before `deprecated_on`;
        `replacement_model_id` must be another catalogued model that is not retired."""
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
                deprecated_on=data.deprecated_on,
                retires_on=data.retires_on,
                replacement_model_id=data.replacement_model_id,
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
        """Changes the given fields; provider and model name are fixed; prices change via `/prices`.

        `deprecated_on`, `retires_on` and `replacement_model_id` are cleared with `null`; retirement may not
        be before deprecation, and a new replacement must be another catalogued model that is not retired."""
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
                deprecated_on=_kept(data.deprecated_on),
                retires_on=_kept(data.retires_on),
                replacement_model_id=_kept(data.replacement_model_id),
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
