"""Managing webhook endpoints: create (secret shown once), list, get, update, delete, rotate the secret, and
the deliveries of an endpoint (list, replay)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from asynccoder.application.ports.outbound_webhooks import HostResolver
from asynccoder.application.ports.system import Clock, IdGenerator, SecretBox
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import Page, check_limit, page_of
from asynccoder.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from asynccoder.domain.identity import Actor
from asynccoder.domain.webhook_endpoints import (
    MAX_DESCRIPTION,
    ROTATION_OVERLAP,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    new_secret,
    refused_address,
    validate_event_types,
    validate_url,
    webhook_endpoint_secret_context,
)

MAX_ENDPOINTS_PER_USER = 20


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """``production``: https and public addresses only, at create/update time and at send time."""

    production: bool
    timeout_seconds: float = 10.0
    lease: timedelta = timedelta(seconds=60)  # longer than a send may take (timeout) by a wide margin
    batch_size: int = 20
    rotation_overlap: timedelta = ROTATION_OVERLAP


async def check_url(url: str, policy: WebhookPolicy, resolver: HostResolver) -> str:
    """The normalised URL, or ``InvalidInput`` (``invalid_webhook_url``): the static rule, and in production
    every address the host resolves to now must be public."""
    url = validate_url(url, production=policy.production)
    if policy.production:
        parts = urlsplit(url)
        try:
            addresses = await resolver.resolve(parts.hostname or "", parts.port or 443)
        except OSError:
            addresses = []
        if not addresses or refused_address(addresses) is not None:
            message = "must resolve to public addresses only"
            raise InvalidInput(message, problems=[FieldProblem("url", message)], code="invalid_webhook_url")
    return url


def _threshold(value: int | None) -> int | None:
    if value is not None and value < 1:
        message = "must be a positive number of credits"
        raise InvalidInput(message, problems=[FieldProblem("credits_low_threshold", message)])
    return value


def _description(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_DESCRIPTION:
        message = f"at most {MAX_DESCRIPTION} characters"
        raise InvalidInput(message, problems=[FieldProblem("description", message)])
    return value


@dataclass(frozen=True, slots=True)
class CreateWebhookEndpointCommand:
    actor: Actor
    url: str
    event_types: tuple[str, ...] = ()
    enabled: bool = True
    description: str = ""
    credits_low_threshold: int | None = None


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str = dataclasses.field(repr=False)


class CreateWebhookEndpoint:
    """Register an endpoint for the caller; its signing secret is returned here only and stored encrypted.

    Rules: the URL rule of ``domain.webhook_endpoints`` (production: https, public host, every resolved
    address public); known event types only (none: all); at most 20 endpoints per user (``Refused``
    ``too_many_webhook_endpoints``); ``credits_low_threshold`` positive.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        ids: IdGenerator,
        clock: Clock,
        box: SecretBox,
        resolver: HostResolver,
        policy: WebhookPolicy,
    ) -> None:
        self._uow, self._ids, self._clock, self._box = uow, ids, clock, box
        self._resolver, self._policy = resolver, policy

    async def __call__(self, command: CreateWebhookEndpointCommand) -> EndpointWithSecret:
        url = await check_url(command.url, self._policy, self._resolver)
        types = validate_event_types(command.event_types)
        now = self._clock.now()
        endpoint_id, user_id = self._ids.new_id(), command.actor.user_id
        secret = new_secret()
        endpoint = WebhookEndpoint(
            id=endpoint_id,
            user_id=user_id,
            url=url,
            event_types=types,
            enabled=command.enabled,
            sealed_secret=self._box.encrypt(
                secret, context=webhook_endpoint_secret_context(endpoint_id, user_id)
            ),
            created_at=now,
            updated_at=now,
            description=_description(command.description),
            credits_low_threshold=_threshold(command.credits_low_threshold),
        )
        async with self._uow as uow:
            existing = await uow.webhook_endpoints.list_for_user(
                user_id, limit=MAX_ENDPOINTS_PER_USER, before=None
            )
            if len(existing) >= MAX_ENDPOINTS_PER_USER:
                raise Conflict(
                    f"You already have {MAX_ENDPOINTS_PER_USER} webhook endpoints.",
                    code="too_many_webhook_endpoints",
                )
            await uow.webhook_endpoints.add(endpoint)
            await uow.commit()
        return EndpointWithSecret(endpoint, secret)


@dataclass(frozen=True, slots=True)
class ListWebhookEndpointsQuery:
    actor: Actor
    limit: int = 20
    cursor: UUID | None = None


class ListWebhookEndpoints:
    """The caller's endpoints, newest first; never their secrets."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: ListWebhookEndpointsQuery) -> Page[WebhookEndpoint]:
        limit = check_limit(query.limit)
        async with self._uow as uow:
            rows = await uow.webhook_endpoints.list_for_user(
                query.actor.user_id, limit=limit + 1, before=query.cursor
            )
        return page_of(rows, limit, lambda e: e.id)


async def _own(uow: UnitOfWork, actor: Actor, endpoint_id: UUID) -> WebhookEndpoint:
    endpoint = await uow.webhook_endpoints.get(endpoint_id, user_id=actor.user_id)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", code="webhook_endpoint_not_found")
    return endpoint


class GetWebhookEndpoint:
    """One of the caller's endpoints; another user's is ``NotFound``."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, endpoint_id: UUID) -> WebhookEndpoint:
        async with self._uow as uow:
            return await _own(uow, actor, endpoint_id)


@dataclass(frozen=True, slots=True)
class UpdateWebhookEndpointCommand:
    """A full replacement of the editable fields (``PUT``)."""

    actor: Actor
    endpoint_id: UUID
    url: str
    event_types: tuple[str, ...] = ()
    enabled: bool = True
    description: str = ""
    credits_low_threshold: int | None = None


class UpdateWebhookEndpoint:
    """Replace an endpoint's URL, event types, enabled flag, description and threshold.

    Rules: the create rules; enabling an endpoint clears its ``disabled_reason``; another user's is
    ``NotFound``.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, resolver: HostResolver, policy: WebhookPolicy) -> None:
        self._uow, self._clock, self._resolver, self._policy = uow, clock, resolver, policy

    async def __call__(self, command: UpdateWebhookEndpointCommand) -> WebhookEndpoint:
        url = await check_url(command.url, self._policy, self._resolver)
        types = validate_event_types(command.event_types)
        description = _description(command.description)
        threshold = _threshold(command.credits_low_threshold)
        async with self._uow as uow:
            current = await _own(uow, command.actor, command.endpoint_id)
            updated = dataclasses.replace(
                current,
                url=url,
                event_types=types,
                enabled=command.enabled,
                description=description,
                credits_low_threshold=threshold,
                updated_at=self._clock.now(),
                disabled_reason=None if command.enabled else current.disabled_reason,
                disabled_at=None if command.enabled else current.disabled_at,
            )
            await uow.webhook_endpoints.update(updated)
            await uow.commit()
        return updated


class DeleteWebhookEndpoint:
    """Delete one of the caller's endpoints and its deliveries; another user's is ``NotFound``."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, endpoint_id: UUID) -> None:
        async with self._uow as uow:
            if not await uow.webhook_endpoints.delete(endpoint_id, user_id=actor.user_id):
                raise NotFound("No such webhook endpoint.", code="webhook_endpoint_not_found")
            await uow.commit()


class RotateWebhookEndpointSecret:
    """Give an endpoint a new signing secret (returned here only); the old one keeps signing beside it for
    ``rotation_overlap`` (24 h), so receivers can switch without losing deliveries. Rotating again during an
    overlap replaces the older secret."""

    def __init__(self, uow: UnitOfWork, clock: Clock, box: SecretBox, policy: WebhookPolicy) -> None:
        self._uow, self._clock, self._box, self._policy = uow, clock, box, policy

    async def __call__(self, actor: Actor, endpoint_id: UUID) -> EndpointWithSecret:
        now = self._clock.now()
        secret = new_secret()
        async with self._uow as uow:
            current = await _own(uow, actor, endpoint_id)
            context = webhook_endpoint_secret_context(current.id, current.user_id)
            updated = dataclasses.replace(
                current,
                sealed_secret=self._box.encrypt(secret, context=context),
                sealed_previous_secret=current.sealed_secret,
                previous_secret_expires_at=now + self._policy.rotation_overlap,
                updated_at=now,
            )
            await uow.webhook_endpoints.update(updated)
            await uow.commit()
        return EndpointWithSecret(updated, secret)


@dataclass(frozen=True, slots=True)
class ListWebhookDeliveriesQuery:
    actor: Actor
    endpoint_id: UUID
    limit: int = 20
    cursor: UUID | None = None


class ListWebhookDeliveries:
    """An endpoint's deliveries, newest first, each with its attempts (status code, duration, error)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: ListWebhookDeliveriesQuery) -> Page[WebhookDelivery]:
        limit = check_limit(query.limit)
        async with self._uow as uow:
            await _own(uow, query.actor, query.endpoint_id)
            rows = await uow.webhook_outbox.list_for_endpoint(
                query.endpoint_id, limit=limit + 1, before=query.cursor
            )
        return page_of(rows, limit, lambda d: d.id)


class ReplayWebhookDelivery:
    """Send a delivery's event again, as a new delivery with the same event id (``webhook-id``), due now.

    Rules: the delivery must belong to the caller's endpoint (else ``NotFound``); a disabled endpoint is a
    ``Conflict`` (``webhook_endpoint_disabled``): enable it first.
    """

    def __init__(self, uow: UnitOfWork, ids: IdGenerator, clock: Clock) -> None:
        self._uow, self._ids, self._clock = uow, ids, clock

    async def __call__(self, actor: Actor, endpoint_id: UUID, delivery_id: UUID) -> WebhookDelivery:
        now: datetime = self._clock.now()
        async with self._uow as uow:
            endpoint = await _own(uow, actor, endpoint_id)
            original = await uow.webhook_outbox.get_delivery(delivery_id)
            if original is None or original.endpoint_id != endpoint.id:
                raise NotFound("No such delivery.", code="webhook_delivery_not_found")
            if not endpoint.enabled:
                raise Conflict("The endpoint is disabled; enable it first.", code="webhook_endpoint_disabled")
            replay = WebhookDelivery(
                id=self._ids.new_id(),
                endpoint_id=endpoint.id,
                event_id=original.event_id,
                event_type=original.event_type,
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
            )
            await uow.webhook_outbox.add_delivery(replay)
            await uow.commit()
        return replay
