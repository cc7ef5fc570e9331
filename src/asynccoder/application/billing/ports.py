"""Ports for credits, plans, subscriptions and the payment provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

# --- the payment provider -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineItem:
    """One thing to pay for: a Stripe price id, or inline price data (name + amount)."""

    name: str
    unit_amount_cents: int
    stripe_price_id: str | None = None
    recurring_monthly: bool = False
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    mode: Literal["payment", "subscription"]
    customer_id: str
    item: LineItem
    success_url: str
    cancel_url: str
    client_reference_id: str
    metadata: dict[str, str]
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True, slots=True)
class ProviderInvoice:
    id: str
    status: str
    amount_due_cents: int
    amount_paid_cents: int
    currency: str
    created: datetime
    hosted_invoice_url: str | None
    number: str | None


@dataclass(frozen=True, slots=True)
class InvoicePage:
    items: list[ProviderInvoice]
    has_more: bool


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A verified webhook event: ``data`` is the event's ``data.object`` as plain JSON values."""

    id: str
    type: str
    created: datetime
    data: dict[str, Any] = field(default_factory=dict)


class PaymentGateway(Protocol):
    """The payment provider (Stripe). Calls carry idempotency keys derived from our ids. Failures raise
    ``Unavailable`` (provider down) or ``Conflict`` (an idempotency key reused with different parameters)."""

    async def create_customer(self, *, user_id: UUID, email: str, idempotency_key: str) -> str: ...

    async def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession: ...

    async def create_portal_session(
        self, *, customer_id: str, return_url: str, idempotency_key: str
    ) -> str: ...

    async def list_invoices(
        self, *, customer_id: str, limit: int, starting_after: str | None
    ) -> InvoicePage: ...

    def parse_event(self, payload: bytes, signature_header: str | None) -> PaymentEvent:
        """Verify the signature over the raw ``payload`` (with the timestamp tolerance) and decode the event;
        ``InvalidInput`` (code ``invalid_signature``) when it does not verify."""
        ...
