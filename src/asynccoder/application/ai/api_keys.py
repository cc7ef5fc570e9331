"""Users' own provider keys (BYOK): storing them sealed, showing only their last 4 characters, using them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from asynccoder.application.ports.agent import UserSecrets
from asynccoder.application.ports.ai import (
    ChatModelFactory,
    ModelFilter,
    PlatformKeys,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
    SecretBox,
    SecretUnreadable,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import Page, check_limit, page_of
from asynccoder.domain.ai import ChatRequest, Message, ModelRef, Provider, ProviderAuthError, ProviderError
from asynccoder.domain.ai_catalogue import (
    TIER_RANK,
    ApiKey,
    ApiKeyStatus,
    KeySource,
    api_key_context,
    validate_label,
    validate_provider_key,
)
from asynccoder.domain.errors import FieldProblem, InvalidInput, NotFound, Refused
from asynccoder.domain.identity import Actor

# The smallest useful call: proves the key, the endpoint and the model answer.
PROBE_PROMPT = "Reply with the single word: pong"
PROBE_MAX_TOKENS = 8


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


async def _owned_key(uow: UnitOfWork, actor: Actor, key_id: UUID) -> ApiKey:
    key = await uow.api_keys.get(key_id)
    if key is None or key.user_id != actor.user_id:
        raise NotFound("No such API key.", code="api_key_not_found")
    return key


async def _probe_ref(uow: UnitOfWork, provider: Provider) -> ModelRef | None:
    """The cheapest enabled model of ``provider``, to validate a key against."""
    models = await uow.ai_catalogue.list_models(ModelFilter(provider=provider))
    if not models:
        return None
    config = await uow.ai_catalogue.get_provider_config(provider)
    cheapest = min(models, key=lambda m: (TIER_RANK[m.tier], m.model_name))
    return cheapest.ref(config.base_url if config else None)


async def _validate_with_provider(factory: ChatModelFactory, ref: ModelRef, key: str) -> None:
    """Raises ``Refused`` (``api_key_invalid``) when the provider does not accept the key."""
    try:
        await factory.create(ref, api_key=key).complete(
            ChatRequest(model=ref.model, messages=(Message.user(PROBE_PROMPT),), max_tokens=PROBE_MAX_TOKENS)
        )
    except ProviderAuthError:
        raise Refused("The provider rejected this key.", code="api_key_invalid") from None
    except ProviderError as exc:
        raise Refused(
            f"The key could not be validated: the provider call failed ({exc.code}).", code="api_key_invalid"
        ) from None


@dataclass(frozen=True, slots=True)
class ListApiKeysInput:
    actor: Actor
    limit: int = 20
    cursor: UUID | None = None


class ListApiKeys:
    """The caller's own keys, newest first. Rules: only the caller's keys are ever listed."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: ListApiKeysInput) -> Page[ApiKey]:
        limit = check_limit(data.limit)
        async with self._uow as uow:
            keys = await uow.api_keys.list_for_user(data.actor.user_id, limit=limit + 1, before=data.cursor)
        return page_of(keys, limit, lambda key: key.id)


@dataclass(frozen=True, slots=True)
class GetApiKeyInput:
    actor: Actor
    key_id: UUID


class GetApiKey:
    """One of the caller's keys. Rules: someone else's key is ``NotFound``."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: GetApiKeyInput) -> ApiKey:
        async with self._uow as uow:
            return await _owned_key(uow, data.actor, data.key_id)


@dataclass(frozen=True, slots=True)
class CreateApiKeyInput:
    actor: Actor
    provider: Provider
    key: str = dataclasses.field(repr=False)
    label: str = ""
    monthly_cap_credits: int | None = None
    validate: bool = False


class CreateApiKey:
    """Stores the caller's own key for a provider, sealed to its row and owner.

    Rules: the provider must be in the ``api_key_providers`` reference data; one key per (user, provider)
    (``Conflict`` ``api_key_exists``: replace it with ``UpdateApiKey``); with ``validate`` a minimal call is
    made first and a rejected key is refused (``api_key_invalid``) and not stored; the plaintext is never
    returned, logged or kept outside the sealed column.
    """

    def __init__(
        self, uow: UnitOfWork, clock: Clock, ids: IdGenerator, box: SecretBox, factory: ChatModelFactory
    ) -> None:
        self._uow, self._clock, self._ids, self._box, self._factory = uow, clock, ids, box, factory

    async def __call__(self, data: CreateApiKeyInput) -> ApiKey:
        plaintext = validate_provider_key(data.key)
        label = validate_label(data.label)
        _check_cap(data.monthly_cap_credits)
        async with self._uow as uow:
            known = {p.provider for p in await uow.api_keys.list_key_providers()}
            if data.provider not in known:
                raise InvalidInput(
                    "Keys for this provider are not supported.",
                    problems=[FieldProblem("provider", "is not a supported key provider")],
                )
            probe = await _probe_ref(uow, data.provider) if data.validate else None
        if data.validate:
            if probe is None:
                raise Refused(
                    "No enabled model of this provider to validate against.", code="api_key_invalid"
                )
            await _validate_with_provider(self._factory, probe, plaintext)
        now = self._clock.now()
        key_id = self._ids.new_id()
        key = ApiKey(
            id=key_id,
            user_id=data.actor.user_id,
            provider=data.provider,
            label=label,
            last4=plaintext[-4:],
            sealed_key=self._box.encrypt(plaintext, context=api_key_context(key_id, data.actor.user_id)),
            status=ApiKeyStatus.ACTIVE,
            monthly_cap_credits=data.monthly_cap_credits,
            created_at=now,
            updated_at=now,
        )
        async with self._uow as uow:
            await uow.api_keys.add(key)
            await uow.commit()
        return key


def _check_cap(cap: int | None) -> None:
    if cap is not None and not 0 <= cap <= 10**12:
        raise InvalidInput(
            "The cap is out of range.",
            problems=[FieldProblem("monthly_cap_credits", "must be between 0 and 1000000000000")],
        )


@dataclass(frozen=True, slots=True)
class UpdateApiKeyInput:
    """``key`` replaces the secret (and re-activates an invalid key); ``monthly_cap_credits`` may be set to
    ``None`` to remove the cap when ``clear_cap`` is true."""

    actor: Actor
    key_id: UUID
    key: str | None = dataclasses.field(default=None, repr=False)
    label: str | None = None
    monthly_cap_credits: int | None = None
    clear_cap: bool = False
    validate: bool = False


class UpdateApiKey:
    """Changes the caller's key: label, monthly cap or the key itself.

    Rules: someone else's key is ``NotFound``; a new key may be validated first (``api_key_invalid``, nothing
    changed); a new key is sealed to the same row and makes the key active again.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, box: SecretBox, factory: ChatModelFactory) -> None:
        self._uow, self._clock, self._box, self._factory = uow, clock, box, factory

    async def __call__(self, data: UpdateApiKeyInput) -> ApiKey:
        plaintext = validate_provider_key(data.key) if data.key is not None else None
        label = validate_label(data.label) if data.label is not None else None
        _check_cap(data.monthly_cap_credits)
        async with self._uow as uow:
            key = await _owned_key(uow, data.actor, data.key_id)
            probe = await _probe_ref(uow, key.provider) if data.validate and plaintext else None
        if data.validate and plaintext is not None:
            if probe is None:
                raise Refused(
                    "No enabled model of this provider to validate against.", code="api_key_invalid"
                )
            await _validate_with_provider(self._factory, probe, plaintext)
        async with self._uow as uow:
            key = await _owned_key(uow, data.actor, data.key_id)
            cap = key.monthly_cap_credits
            if data.clear_cap:
                cap = None
            elif data.monthly_cap_credits is not None:
                cap = data.monthly_cap_credits
            sealed, last4, status = key.sealed_key, key.last4, key.status
            if plaintext is not None:
                sealed = self._box.encrypt(plaintext, context=api_key_context(key.id, key.user_id))
                last4, status = plaintext[-4:], ApiKeyStatus.ACTIVE
            updated = dataclasses.replace(
                key,
                label=key.label if label is None else label,
                monthly_cap_credits=cap,
                sealed_key=sealed,
                last4=last4,
                status=status,
                updated_at=self._clock.now(),
            )
            await uow.api_keys.update(updated)
            await uow.commit()
        return updated


@dataclass(frozen=True, slots=True)
class DeleteApiKeyInput:
    actor: Actor
    key_id: UUID


class DeleteApiKey:
    """Deletes the caller's key; its usage log rows stay, detached.

    Rules: someone else's key is ``NotFound``.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: DeleteApiKeyInput) -> None:
        async with self._uow as uow:
            await _owned_key(uow, data.actor, data.key_id)
            await uow.api_keys.delete(data.key_id)
            await uow.commit()


@dataclass(frozen=True, slots=True)
class ResolveCallCredentialsInput:
    user_id: UUID
    provider: Provider


@dataclass(frozen=True, slots=True)
class CallCredentials:
    """The key for one call. Short-lived: use it for the call, then drop it (never store or log it)."""

    api_key: str = dataclasses.field(repr=False)
    key_source: KeySource
    api_key_id: UUID | None
    charges_platform_credits: bool


class ResolveCallCredentials:
    """Which key a call of the user on the provider uses, decided at call time.

    Rules: the user's own key when it is active, decrypts, and this month's spend on it (UTC calendar month,
    priced like platform calls) is below its cap; then no platform credits are charged for tokens. Otherwise
    the platform key, and platform credits are charged. Neither -> ``Refused`` (``no_provider_key``).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, box: SecretBox, platform_keys: PlatformKeys) -> None:
        self._uow, self._clock, self._box, self._platform = uow, clock, box, platform_keys

    async def __call__(self, data: ResolveCallCredentialsInput) -> CallCredentials:
        async with self._uow as uow:
            key = await uow.api_keys.get_for_provider(data.user_id, data.provider)
            if key is not None and key.status is ApiKeyStatus.ACTIVE:
                under_cap = True
                if key.monthly_cap_credits is not None:
                    spent = await uow.model_usage.spent_on_key_since(key.id, month_start(self._clock.now()))
                    under_cap = spent < key.monthly_cap_credits
                if under_cap:
                    try:
                        plaintext = self._box.decrypt(
                            key.sealed_key, context=api_key_context(key.id, key.user_id)
                        )
                    except SecretUnreadable:
                        plaintext = None
                    if plaintext is not None:
                        return CallCredentials(
                            plaintext, KeySource.BYOK, key.id, charges_platform_credits=False
                        )
        platform = self._platform.key_for(data.provider)
        if platform is None:
            raise Refused("No key is available for this provider.", code="no_provider_key")
        return CallCredentials(platform, KeySource.PLATFORM, None, charges_platform_credits=True)


class StoredProviderKeys(UserSecrets):
    """``UserSecrets`` from the user's stored provider keys (every status: a revoked key is still a secret),
    decrypted under their row binding; a key that no longer decrypts is skipped."""

    def __init__(self, uow: UnitOfWork, box: SecretBox) -> None:
        self._uow, self._box = uow, box

    async def for_user(self, user_id: UUID) -> tuple[str, ...]:
        async with self._uow as uow:
            keys = await uow.api_keys.list_for_user(user_id)
        values: list[str] = []
        for key in keys:
            try:
                values.append(self._box.decrypt(key.sealed_key, context=api_key_context(key.id, key.user_id)))
            except SecretUnreadable:
                continue
        return tuple(v for v in values if v)
