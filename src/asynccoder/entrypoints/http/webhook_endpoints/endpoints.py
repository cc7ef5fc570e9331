"""Webhook endpoints over HTTP: create (secret shown once), list, show, replace, delete, rotate the secret,
and an endpoint's deliveries (list, replay)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody

from asynccoder.application.outbound_webhooks.endpoints import (
    CreateWebhookEndpoint,
    CreateWebhookEndpointCommand,
    DeleteWebhookEndpoint,
    EndpointWithSecret,
    GetWebhookEndpoint,
    ListWebhookDeliveries,
    ListWebhookDeliveriesQuery,
    ListWebhookEndpoints,
    ListWebhookEndpointsQuery,
    ReplayWebhookDelivery,
    RotateWebhookEndpointSecret,
    UpdateWebhookEndpoint,
    UpdateWebhookEndpointCommand,
)
from asynccoder.application.shared import DEFAULT_PAGE_SIZE
from asynccoder.domain.identity import Actor
from asynccoder.domain.webhook_endpoints import (
    MAX_DESCRIPTION,
    MAX_EVENT_TYPES,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from asynccoder.entrypoints.http.common import API_PREFIX, Cursor, Limit, parse_cursor, problem_response, wire

PATH = "/webhook-endpoints"
ERRORS = {
    400: problem_response("Invalid input (`validation_failed`, `invalid_webhook_url`, `invalid_cursor`)"),
    401: problem_response("No or a bad token (`invalid_token`)"),
}
NOT_FOUND = {
    404: problem_response(
        "No such endpoint or delivery, or not the caller's (`webhook_endpoint_not_found`, "
        "`webhook_delivery_not_found`)"
    )
}
URL_DOC = (
    "An absolute `https` URL without user info, query or fragment. In production the host must be public and "
    "resolve only to public addresses (checked again at every send); in development `http://127.0.0.1` works."
)
EventTypes = Annotated[list[WebhookEventType], msgspec.Meta(max_length=MAX_EVENT_TYPES)]


class EndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048, description=URL_DOC)]
    event_types: EventTypes = msgspec.field(default_factory=list)
    enabled: bool = True
    description: Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION)] = ""
    credits_low_threshold: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1,
                description="Send `credits.low` when the balance falls below this many credits (none: never)",
            ),
        ]
        | None
    ) = None


class EndpointOut(msgspec.Struct):
    id: str
    url: str
    event_types: list[str]
    enabled: bool
    description: str
    credits_low_threshold: int | None
    disabled_reason: str | None
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str


class EndpointPage(msgspec.Struct):
    items: list[EndpointOut]
    next_cursor: str | None


class AttemptOut(msgspec.Struct):
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None


class DeliveryOut(msgspec.Struct):
    id: str
    event_id: str
    event_type: str
    status: str
    next_attempt_at: datetime | None
    created_at: datetime
    attempts: list[AttemptOut]


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryOut]
    next_cursor: str | None


def _endpoint_fields(e: WebhookEndpoint) -> dict[str, object]:
    return {"id": str(e.id), "event_types": [t.value for t in e.event_types]}


def _out(e: WebhookEndpoint) -> EndpointOut:
    return wire(EndpointOut, e, **_endpoint_fields(e))


def _with_secret(created: EndpointWithSecret) -> EndpointWithSecretOut:
    e = created.endpoint
    return wire(EndpointWithSecretOut, e, **_endpoint_fields(e), secret=created.secret)


def _delivery(d: WebhookDelivery) -> DeliveryOut:
    return wire(
        DeliveryOut,
        d,
        id=str(d.id),
        event_id=str(d.event_id),
        event_type=d.event_type.value,
        status=d.status.value,
    )


NO_STORE = {"Cache-Control": "no-store"}


class WebhookEndpointController(Controller):
    path = PATH
    tags = ["webhook endpoints"]

    @post(
        "/",
        operation_id="webhook_endpoints_create",
        summary="Register a webhook endpoint",
        status_code=201,
        responses={
            **ERRORS,
            409: problem_response("Too many endpoints (`too_many_webhook_endpoints`)"),
        },
    )
    @inject
    async def create(
        self, data: JSONBody[EndpointIn], actor: FromDishka[Actor], create: FromDishka[CreateWebhookEndpoint]
    ) -> Response[EndpointWithSecretOut]:
        """The signing `secret` (`whsec_...`) is in this response only: store it now. No `event_types`
        means every type. Deliveries are signed as Standard Webhooks specifies (see the README)."""
        created = await create(
            CreateWebhookEndpointCommand(
                actor=actor,
                url=data.url,
                event_types=tuple(t.value for t in data.event_types),
                enabled=data.enabled,
                description=data.description,
                credits_low_threshold=data.credits_low_threshold,
            )
        )
        return Response(
            _with_secret(created),
            status_code=201,
            headers={"Location": f"{API_PREFIX}{PATH}/{created.endpoint.id}", **NO_STORE},
        )

    @get("/", operation_id="webhook_endpoints_list", summary="List your webhook endpoints", responses=ERRORS)
    @inject
    async def list_endpoints(
        self,
        actor: FromDishka[Actor],
        list_endpoints: FromDishka[ListWebhookEndpoints],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> EndpointPage:
        """Newest first; secrets are never shown again."""
        page = await list_endpoints(ListWebhookEndpointsQuery(actor, limit, parse_cursor(cursor)))
        return EndpointPage(
            items=[_out(e) for e in page.items],
            next_cursor=str(page.next_cursor) if page.next_cursor else None,
        )

    @get(
        "/{endpoint_id:uuid}",
        operation_id="webhook_endpoints_get",
        summary="Show a webhook endpoint",
        responses={**ERRORS, **NOT_FOUND},
    )
    @inject
    async def get_endpoint(
        self,
        endpoint_id: FromPath[UUID],
        actor: FromDishka[Actor],
        get_endpoint: FromDishka[GetWebhookEndpoint],
    ) -> EndpointOut:
        """`disabled_reason` is `delivery_failures` when the platform disabled it after a delivery failed for
        about a day."""
        return _out(await get_endpoint(actor, endpoint_id))

    @put(
        "/{endpoint_id:uuid}",
        operation_id="webhook_endpoints_update",
        summary="Replace a webhook endpoint's settings",
        responses={**ERRORS, **NOT_FOUND},
    )
    @inject
    async def update(
        self,
        endpoint_id: FromPath[UUID],
        data: JSONBody[EndpointIn],
        actor: FromDishka[Actor],
        update: FromDishka[UpdateWebhookEndpoint],
    ) -> EndpointOut:
        """Every editable field is replaced (omitted ones take their defaults). Enabling clears
        `disabled_reason`."""
        updated = await update(
            UpdateWebhookEndpointCommand(
                actor=actor,
                endpoint_id=endpoint_id,
                url=data.url,
                event_types=tuple(t.value for t in data.event_types),
                enabled=data.enabled,
                description=data.description,
                credits_low_threshold=data.credits_low_threshold,
            )
        )
        return _out(updated)

    @delete(
        "/{endpoint_id:uuid}",
        operation_id="webhook_endpoints_delete",
        summary="Delete a webhook endpoint",
        status_code=204,
        responses={401: ERRORS[401], **NOT_FOUND},
    )
    @inject
    async def remove(
        self, endpoint_id: FromPath[UUID], actor: FromDishka[Actor], remove: FromDishka[DeleteWebhookEndpoint]
    ) -> None:
        """Its pending deliveries are dropped."""
        await remove(actor, endpoint_id)

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        operation_id="webhook_endpoints_rotate_secret",
        summary="Rotate a webhook endpoint's signing secret",
        status_code=200,
        responses={401: ERRORS[401], **NOT_FOUND},
    )
    @inject
    async def rotate(
        self,
        endpoint_id: FromPath[UUID],
        actor: FromDishka[Actor],
        rotate: FromDishka[RotateWebhookEndpointSecret],
    ) -> Response[EndpointWithSecretOut]:
        """The new `secret` is in this response only. Until `previous_secret_expires_at` (24 h) deliveries
        carry a signature with each secret in `webhook-signature`, space-separated."""
        return Response(_with_secret(await rotate(actor, endpoint_id)), status_code=200, headers=NO_STORE)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        operation_id="webhook_endpoints_deliveries_list",
        summary="List an endpoint's deliveries and their attempts",
        responses={**ERRORS, **NOT_FOUND},
    )
    @inject
    async def deliveries(
        self,
        endpoint_id: FromPath[UUID],
        actor: FromDishka[Actor],
        list_deliveries: FromDishka[ListWebhookDeliveries],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> DeliveryPage:
        """Newest first; each attempt with its HTTP status (null when no response came), duration and
        error."""
        page = await list_deliveries(
            ListWebhookDeliveriesQuery(actor, endpoint_id, limit, parse_cursor(cursor))
        )
        return DeliveryPage(
            items=[_delivery(d) for d in page.items],
            next_cursor=str(page.next_cursor) if page.next_cursor else None,
        )

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/replay",
        operation_id="webhook_endpoints_deliveries_replay",
        summary="Send a delivery's event again",
        status_code=202,
        responses={
            401: ERRORS[401],
            **NOT_FOUND,
            409: problem_response("The endpoint is disabled (`webhook_endpoint_disabled`)"),
        },
    )
    @inject
    async def replay(
        self,
        endpoint_id: FromPath[UUID],
        delivery_id: FromPath[UUID],
        actor: FromDishka[Actor],
        replay: FromDishka[ReplayWebhookDelivery],
    ) -> Response[DeliveryOut]:
        """A new delivery of the same event (same `webhook-id`), sent by the worker shortly."""
        replayed = await replay(actor, endpoint_id, delivery_id)
        return Response(
            _delivery(replayed),
            status_code=202,
            headers={"Location": f"{API_PREFIX}{PATH}/{endpoint_id}/deliveries"},
        )
