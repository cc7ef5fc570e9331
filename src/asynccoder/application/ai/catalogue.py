"""Use cases of the model catalogue: browsing, admin changes, effective-dated prices, provider configs."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeVar
from uuid import UUID

from asynccoder.application.ports.ai import (
    ModelFilter,
    PlatformKeys,
    TierEntitlements,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import Page, check_limit
from asynccoder.domain.ai import ModelTier, Provider
from asynccoder.domain.ai_catalogue import (
    ApiKeyStatus,
    Capability,
    CatalogueModel,
    ModelPrice,
    ProviderConfig,
    TaskMode,
    price_at,
    validate_model_fields,
    validate_price_values,
)
from asynccoder.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound, Refused
from asynccoder.domain.identity import Actor
from asynccoder.domain.model_endpoints import ModelEndpointPolicy
from asynccoder.domain.model_lifecycle import is_retired, validate_lifecycle

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ModelView:
    """A catalogued model as a caller sees it: its price now and whether the caller can use it."""

    model: CatalogueModel
    price: ModelPrice | None
    usable: bool
    unusable_reason: str | None


async def _usability(
    uow: UnitOfWork,
    platform_keys: PlatformKeys,
    tiers: frozenset[ModelTier],
    actor: Actor,
    models: list[CatalogueModel],
    now: datetime,
) -> dict[UUID, str | None]:
    """Why each model is unusable for the actor at ``now`` (``None`` = usable)."""
    configs = {c.provider: c for c in await uow.ai_catalogue.list_provider_configs()}
    reasons: dict[UUID, str | None] = {}
    # The caller's keys in one read, whatever the number of providers on the page.
    keys = await uow.api_keys.list_for_user(actor.user_id) if models else []
    own = {key.provider for key in keys if key.status is ApiKeyStatus.ACTIVE}
    for model in models:
        config = configs.get(model.provider)
        if is_retired(model, now):
            reasons[model.id] = "model_retired"
        elif not model.enabled or (config is not None and not config.enabled):
            reasons[model.id] = "model_disabled"
        elif model.tier not in tiers:
            reasons[model.id] = "tier_not_allowed"
        elif model.provider not in own and platform_keys.key_for(model.provider) is None:
            reasons[model.id] = "no_provider_key"
        else:
            reasons[model.id] = None
    return reasons


@dataclass(frozen=True, slots=True)
class ListModelsInput:
    actor: Actor
    provider: Provider | None = None
    tier: ModelTier | None = None
    capability: Capability | None = None
    include_disabled: bool = False
    limit: int = 20
    cursor: UUID | None = None


class ListModels:
    """Lists catalogued models, newest first, with cursor pagination.

    Rules: only admins may see disabled models (``include_disabled`` is ignored for others); each item says
    whether the caller can use it (not retired, enabled, tier allowed by the plan, a key available for its
    provider).
    """

    def __init__(
        self, uow: UnitOfWork, clock: Clock, platform_keys: PlatformKeys, entitlements: TierEntitlements
    ) -> None:
        self._uow, self._clock, self._keys, self._entitlements = uow, clock, platform_keys, entitlements

    async def __call__(self, data: ListModelsInput) -> Page[ModelView]:
        model_filter = ModelFilter(
            provider=data.provider,
            tier=data.tier,
            capability=data.capability,
            enabled_only=not (data.include_disabled and data.actor.is_admin),
        )
        limit = check_limit(data.limit)
        # Asked before the unit of work opens: entitlements read through a unit of work of their own.
        tiers = await self._entitlements.allowed_tiers(data.actor.user_id)
        async with self._uow.read_only() as uow:
            models = await uow.ai_catalogue.list_models(model_filter, limit=limit + 1, before=data.cursor)
            page, more = models[:limit], len(models) > limit
            now = self._clock.now()
            prices = await uow.ai_catalogue.prices_at([m.id for m in page], now)
            reasons = await _usability(uow, self._keys, tiers, data.actor, page, now)
        items = [ModelView(m, prices.get(m.id), reasons[m.id] is None, reasons[m.id]) for m in page]
        return Page(items, page[-1].id if more and page else None)


@dataclass(frozen=True, slots=True)
class GetModelInput:
    actor: Actor
    model_id: UUID


class GetModel:
    """One model with its current price and whether the caller may use it.

    Rules: a disabled model is visible to admins only (others get ``NotFound``).
    """

    def __init__(
        self, uow: UnitOfWork, clock: Clock, platform_keys: PlatformKeys, entitlements: TierEntitlements
    ) -> None:
        self._uow, self._clock, self._keys, self._entitlements = uow, clock, platform_keys, entitlements

    async def __call__(self, data: GetModelInput) -> ModelView:
        tiers = await self._entitlements.allowed_tiers(data.actor.user_id)
        async with self._uow as uow:
            model = await uow.ai_catalogue.get_model(data.model_id)
            if model is None or (not model.enabled and not data.actor.is_admin):
                raise NotFound("No such model.", code="model_not_found")
            prices = await uow.ai_catalogue.list_prices(model.id)
            now = self._clock.now()
            reasons = await _usability(uow, self._keys, tiers, data.actor, [model], now)
        return ModelView(model, price_at(prices, now), reasons[model.id] is None, reasons[model.id])


@dataclass(frozen=True, slots=True)
class PriceValues:
    input_micro_usd_per_mtok: int
    output_micro_usd_per_mtok: int
    cache_read_micro_usd_per_mtok: int
    cache_write_micro_usd_per_mtok: int

    def check(self) -> None:
        validate_price_values(dataclasses.asdict(self))


@dataclass(frozen=True, slots=True)
class CreateModelInput:
    actor: Actor
    provider: Provider
    model_name: str
    display_name: str
    context_window: int
    max_output_tokens: int
    capabilities: frozenset[Capability]
    tier: ModelTier
    price: PriceValues
    enabled: bool = True
    default_modes: frozenset[TaskMode] = frozenset()
    deprecated_on: date | None = None
    retires_on: date | None = None
    replacement_model_id: UUID | None = None


class CreateModel:
    """Admin: adds a model to the catalogue with its first price, effective now.

    Rules: admins only; one model per (provider, model_name) (``Conflict`` ``model_exists``); the provider
    must have a provider config; fields and prices are range-checked; the lifecycle is valid (retirement not
    before deprecation; the replacement is another catalogued model, not retired now).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: CreateModelInput) -> ModelView:
        data.actor.require_admin()
        validate_model_fields(
            model_name=data.model_name,
            display_name=data.display_name,
            context_window=data.context_window,
            max_output_tokens=data.max_output_tokens,
        )
        data.price.check()
        now = self._clock.now()
        model = CatalogueModel(
            id=self._ids.new_id(),
            provider=data.provider,
            model_name=data.model_name.strip(),
            display_name=data.display_name.strip(),
            context_window=data.context_window,
            max_output_tokens=data.max_output_tokens,
            capabilities=data.capabilities,
            tier=data.tier,
            enabled=data.enabled,
            default_modes=data.default_modes,
            created_at=now,
            updated_at=now,
            deprecated_on=data.deprecated_on,
            retires_on=data.retires_on,
            replacement_model_id=data.replacement_model_id,
        )
        price = ModelPrice(
            id=self._ids.new_id(),
            model_id=model.id,
            effective_from=now,
            created_at=now,
            **_price_kwargs(data.price),
        )
        async with self._uow as uow:
            if await uow.ai_catalogue.get_provider_config(data.provider) is None:
                raise InvalidInput(
                    "This provider is not configured.",
                    problems=[FieldProblem("provider", "has no provider configuration")],
                )
            await _check_lifecycle(uow, model, now, replacement_changed=True)
            await uow.ai_catalogue.add_model(model)
            await uow.ai_catalogue.add_price(price)
            await uow.commit()
        if is_retired(model, now):
            return ModelView(model, price, usable=False, unusable_reason="model_retired")
        return ModelView(model, price, usable=model.enabled, unusable_reason=None)


async def _check_lifecycle(
    uow: UnitOfWork, model: CatalogueModel, now: datetime, *, replacement_changed: bool
) -> None:
    """The model's lifecycle rules; the replacement is checked only when it is being set."""
    replacement_id = model.replacement_model_id if replacement_changed else None
    replacement = await uow.ai_catalogue.get_model(replacement_id) if replacement_id is not None else None
    validate_lifecycle(
        model_id=model.id,
        deprecated_on=model.deprecated_on,
        retires_on=model.retires_on,
        replacement=replacement,
        replacement_model_id=replacement_id,
        moment=now,
    )


def _price_kwargs(values: PriceValues) -> dict[str, int]:
    return dataclasses.asdict(values)


class Unchanged(enum.Enum):
    """Marks a nullable field an update leaves as it is (``None`` there means: clear it)."""

    UNCHANGED = "unchanged"


UNCHANGED: Literal[Unchanged.UNCHANGED] = Unchanged.UNCHANGED


@dataclass(frozen=True, slots=True)
class UpdateModelInput:
    """Fields left ``None`` keep their value; the nullable lifecycle fields keep theirs when ``UNCHANGED``
    and are cleared by ``None``."""

    actor: Actor
    model_id: UUID
    display_name: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: frozenset[Capability] | None = None
    tier: ModelTier | None = None
    enabled: bool | None = None
    default_modes: frozenset[TaskMode] | None = None
    deprecated_on: date | Literal[Unchanged.UNCHANGED] | None = UNCHANGED
    retires_on: date | Literal[Unchanged.UNCHANGED] | None = UNCHANGED
    replacement_model_id: UUID | Literal[Unchanged.UNCHANGED] | None = UNCHANGED


class UpdateModel:
    """Admin: changes a model's descriptive fields, tier, capabilities, defaults, enabled flag or lifecycle.

    Rules: admins only; the provider and model name never change (add a new model instead); prices change
    only through ``SetModelPrice``; the resulting lifecycle is valid (retirement not before deprecation; a
    newly set replacement is another catalogued model, not retired now).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, data: UpdateModelInput) -> CatalogueModel:
        data.actor.require_admin()
        async with self._uow as uow:
            model = await uow.ai_catalogue.get_model(data.model_id)
            if model is None:
                raise NotFound("No such model.", code="model_not_found")
            now = self._clock.now()
            updated = dataclasses.replace(
                model,
                display_name=_keep(data.display_name, model.display_name),
                context_window=_keep(data.context_window, model.context_window),
                max_output_tokens=_keep(data.max_output_tokens, model.max_output_tokens),
                capabilities=_keep(data.capabilities, model.capabilities),
                tier=_keep(data.tier, model.tier),
                enabled=_keep(data.enabled, model.enabled),
                default_modes=_keep(data.default_modes, model.default_modes),
                deprecated_on=_unless_unchanged(data.deprecated_on, model.deprecated_on),
                retires_on=_unless_unchanged(data.retires_on, model.retires_on),
                replacement_model_id=_unless_unchanged(data.replacement_model_id, model.replacement_model_id),
                updated_at=now,
            )
            validate_model_fields(
                model_name=updated.model_name,
                display_name=updated.display_name,
                context_window=updated.context_window,
                max_output_tokens=updated.max_output_tokens,
            )
            await _check_lifecycle(
                uow,
                updated,
                now,
                replacement_changed=updated.replacement_model_id != model.replacement_model_id,
            )
            await uow.ai_catalogue.update_model(updated)
            await uow.commit()
        return updated


@dataclass(frozen=True, slots=True)
class DeleteModelInput:
    actor: Actor
    model_id: UUID


class DeleteModel:
    """Admin: removes a model that was never used.

    Rules: admins only; a model with recorded usage cannot be deleted (``Conflict`` ``model_in_use``: disable
    it instead), so usage history keeps its model.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: DeleteModelInput) -> None:
        data.actor.require_admin()
        async with self._uow as uow:
            if await uow.ai_catalogue.get_model(data.model_id) is None:
                raise NotFound("No such model.", code="model_not_found")
            if await uow.model_usage.model_has_usage(data.model_id):
                raise Conflict("This model has recorded usage; disable it instead.", code="model_in_use")
            await uow.ai_catalogue.delete_model(data.model_id)
            await uow.commit()


@dataclass(frozen=True, slots=True)
class SetModelPriceInput:
    actor: Actor
    model_id: UUID
    price: PriceValues
    effective_from: datetime | None = None


class SetModelPrice:
    """Admin: sets a new price for a model from ``effective_from`` (default: now) onwards.

    Rules: admins only; a price change inserts a new row and never edits an old one; it cannot start in the
    past (``Refused`` ``price_backdated``), so what past calls cost never changes; one price per instant
    (``Conflict`` ``price_exists``).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: SetModelPriceInput) -> ModelPrice:
        data.actor.require_admin()
        data.price.check()
        now = self._clock.now()
        effective_from = data.effective_from or now
        if effective_from.tzinfo is None:
            raise InvalidInput(
                "The time needs a zone.",
                problems=[FieldProblem("effective_from", "must include a UTC offset")],
            )
        if effective_from < now:
            raise Refused("A price cannot start in the past.", code="price_backdated")
        price = ModelPrice(
            id=self._ids.new_id(),
            model_id=data.model_id,
            effective_from=effective_from,
            created_at=now,
            **_price_kwargs(data.price),
        )
        async with self._uow as uow:
            if await uow.ai_catalogue.get_model(data.model_id) is None:
                raise NotFound("No such model.", code="model_not_found")
            await uow.ai_catalogue.add_price(price)
            await uow.commit()
        return price


@dataclass(frozen=True, slots=True)
class ListModelPricesInput:
    actor: Actor
    model_id: UUID


class ListModelPrices:
    """Admin: a model's whole price history, oldest first. Rules: admins only."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: ListModelPricesInput) -> list[ModelPrice]:
        data.actor.require_admin()
        async with self._uow as uow:
            if await uow.ai_catalogue.get_model(data.model_id) is None:
                raise NotFound("No such model.", code="model_not_found")
            prices = await uow.ai_catalogue.list_prices(data.model_id)
        return sorted(prices, key=lambda p: (p.effective_from, p.created_at))


class ListProviderConfigs:
    """Admin: every provider configuration. Rules: admins only."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor) -> list[ProviderConfig]:
        actor.require_admin()
        async with self._uow as uow:
            return await uow.ai_catalogue.list_provider_configs()


@dataclass(frozen=True, slots=True)
class UpdateProviderConfigInput:
    actor: Actor
    provider: Provider
    display_name: str
    base_url: str | None
    enabled: bool


class UpdateProviderConfig:
    """Admin: creates or replaces a provider's configuration.

    Rules: admins only; an ``openai_compatible`` provider needs a ``base_url``; the ``base_url`` follows the
    deployment's ``ModelEndpointPolicy``, the same rule the model calls apply (``BASE_URL_RULE`` in
    ``asynccoder.domain.model_endpoints``).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, endpoints: ModelEndpointPolicy) -> None:
        self._uow, self._clock, self._endpoints = uow, clock, endpoints

    async def __call__(self, data: UpdateProviderConfigInput) -> ProviderConfig:
        data.actor.require_admin()
        name = data.display_name.strip()
        problems: list[FieldProblem] = []
        if not name or len(name) > 100:
            problems.append(FieldProblem("display_name", "must be 1 to 100 characters"))
        base_url = data.base_url
        if base_url is not None:
            try:
                base_url = self._endpoints.validate(base_url)
            except InvalidInput as refused:
                problems.extend(refused.problems)
        if data.provider is Provider.OPENAI_COMPATIBLE and data.base_url is None:
            problems.append(FieldProblem("base_url", "is required for openai_compatible"))
        if problems:
            raise InvalidInput("The provider configuration is not valid.", problems=problems)
        config = ProviderConfig(data.provider, name, base_url, data.enabled, self._clock.now())
        async with self._uow as uow:
            await uow.ai_catalogue.save_provider_config(config)
            await uow.commit()
        return config


def _keep(new: T | None, old: T) -> T:
    """An update input's ``None`` keeps the stored value."""
    return old if new is None else new


def _unless_unchanged(new: T | Literal[Unchanged.UNCHANGED], old: T) -> T:
    """A nullable update field keeps the stored value when ``UNCHANGED``; ``None`` clears it."""
    return old if new is UNCHANGED else new
