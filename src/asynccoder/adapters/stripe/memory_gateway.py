"""An in-memory ``PaymentGateway`` twin: behaves like Stripe for our calls, including idempotency keys and
webhook signatures (``t=...,v1=HMAC-SHA256(secret, "{t}.{payload}")`` with a 300 s tolerance)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from dataclasses import asdict
from uuid import UUID

from asynccoder.adapters.stripe.stripe_payloads import WEBHOOK_TOLERANCE_SECONDS, parse_verified_event
from asynccoder.application.ports.billing import (
    CheckoutRequest,
    CheckoutSession,
    InvoicePage,
    PaymentEvent,
    PaymentGateway,
    ProviderInvoice,
    SubscriptionChanged,
)
from asynccoder.application.ports.system import Clock
from asynccoder.domain.errors import Conflict, InvalidInput, NotFound, Refused, Unavailable


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """A ``Stripe-Signature`` header value for ``payload``, computed exactly as Stripe does."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class InMemoryPaymentGateway(PaymentGateway):
    """Records customers, sessions and invoices in memory; URLs point at ``checkout.example.test``."""

    def __init__(self, clock: Clock, webhook_secret: str | None = None) -> None:
        self._clock = clock
        self._webhook_secret = webhook_secret
        self._counter = itertools.count(1)
        self._idempotent: dict[str, tuple[object, object]] = {}
        self.customers: dict[str, str] = {}  # customer id -> email
        self.sessions: list[tuple[CheckoutSession, CheckoutRequest]] = []
        self.invoices: dict[str, list[ProviderInvoice]] = {}
        self.subscriptions: dict[str, SubscriptionChanged] = {}  # what the provider has now, by id

    def _replay(self, key: str, params: object) -> object | None:
        stored = self._idempotent.get(key)
        if stored is None:
            return None
        if stored[0] != params:
            raise Conflict(
                "This Idempotency-Key was already used with a different request.",
                code="idempotency_key_reused",
            )
        return stored[1]

    async def create_customer(self, *, user_id: UUID, email: str, idempotency_key: str) -> str:
        params = ("customer", user_id, email)
        if (done := self._replay(idempotency_key, params)) is not None:
            return str(done)
        customer_id = f"cus_mem{next(self._counter):08d}"
        self.customers[customer_id] = email
        self._idempotent[idempotency_key] = (params, customer_id)
        return customer_id

    async def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession:
        params = asdict(request) | {"idempotency_key": None}
        if (done := self._replay(request.idempotency_key, params)) is not None:
            assert isinstance(done, CheckoutSession)
            return done
        if request.customer_id not in self.customers:
            raise Unavailable("The payment provider refused the request.", code="payment_provider_error")
        session_id = f"cs_test_mem{next(self._counter):08d}"
        session = CheckoutSession(session_id, f"https://checkout.example.test/c/pay/{session_id}")
        self.sessions.append((session, request))
        self._idempotent[request.idempotency_key] = (params, session)
        return session

    async def create_portal_session(self, *, customer_id: str, return_url: str, idempotency_key: str) -> str:
        if customer_id not in self.customers:
            raise NotFound("No such customer.")
        return f"https://billing.example.test/p/session/bps_mem{next(self._counter):08d}"

    async def list_invoices(self, *, customer_id: str, limit: int, starting_after: str | None) -> InvoicePage:
        invoices = sorted(self.invoices.get(customer_id, []), key=lambda i: (i.created, i.id), reverse=True)
        if starting_after is not None:
            ids = [i.id for i in invoices]
            invoices = invoices[ids.index(starting_after) + 1 :] if starting_after in ids else []
        return InvoicePage(items=invoices[:limit], has_more=len(invoices) > limit)

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionChanged | None:
        return self.subscriptions.get(subscription_id)

    def parse_event(self, payload: bytes, signature_header: str | None) -> PaymentEvent:
        if not self._webhook_secret:
            raise Refused("Stripe webhooks are not configured on this server.", code="billing_not_configured")
        invalid = InvalidInput("The Stripe signature does not verify.", code="invalid_signature")
        if not signature_header:
            raise invalid
        parts = [p.split("=", 1) for p in signature_header.split(",") if "=" in p]
        timestamps = [v for k, v in parts if k == "t"]
        signatures = [v for k, v in parts if k == "v1"]
        if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
            raise invalid
        timestamp = int(timestamps[0])
        expected = sign_payload(payload, self._webhook_secret, timestamp).split("v1=", 1)[1]
        if not any(hmac.compare_digest(expected, s) for s in signatures):
            raise invalid
        if timestamp < self._clock.now().timestamp() - WEBHOOK_TOLERANCE_SECONDS:
            raise invalid
        return parse_verified_event(payload)
