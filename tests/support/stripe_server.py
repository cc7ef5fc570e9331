"""A local HTTP server speaking the part of Stripe's API that the gateway uses.

Form-encoded requests in, JSON objects in Stripe's shapes out. It checks ``Authorization: Bearer
sk_test_...``, requires an ``Idempotency-Key`` on every POST and replays the first response for a repeated
key (a different body under the same key gets Stripe's 400 ``idempotency_error``).
Errors use Stripe's ``{"error": {...}}`` shape.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_51Fake0000000000000000000000"


@dataclass
class Received:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class StripeState:
    requests: list[Received] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    idempotency: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer the next requests with
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_invoice(self, customer: str, *, amount: int = 2000, status: str = "paid") -> dict[str, Any]:
        n = next(self.counter)
        invoice = {
            "id": f"in_fake{n:08d}",
            "object": "invoice",
            "customer": customer,
            "status": status,
            "amount_due": amount,
            "amount_paid": amount if status == "paid" else 0,
            "currency": "usd",
            "created": int(time.time()) + n,
            "hosted_invoice_url": f"https://invoice.stripe.test/i/{n}",
            "number": f"ABC-{n:04d}",
            "livemode": False,
        }
        self.invoices.append(invoice)
        return invoice


def _error(status: int, type_: str, message: str, code: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"type": type_, "message": message}
    if code:
        body["code"] = code
    return status, {"error": body}


class _Handler(BaseHTTPRequestHandler):
    state: StripeState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> bytes:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Request-Id", f"req_fake{next(self.state.counter)}")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)
        return raw

    def _handle(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        query = dict(parse_qsl(url.query))
        params = dict(parse_qsl(raw_body.decode())) if self.command == "POST" else query
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.state.lock:
            self.state.requests.append(Received(self.command, url.path, params, headers))
            fail = self.state.fail_next.pop(0) if self.state.fail_next else None
        if headers.get("authorization") != f"Bearer {API_KEY}":
            self._send(*_error(401, "invalid_request_error", "Invalid API Key provided."))
            return
        if fail is not None:
            self._send(*_error(fail, "api_error", "Something went wrong on Stripe's end."))
            return
        key = headers.get("idempotency-key")
        if self.command == "POST":
            if not key:
                self._send(
                    *_error(400, "invalid_request_error", "This test server requires Idempotency-Key.")
                )
                return
            with self.state.lock:
                stored = self.state.idempotency.get(key)
            if stored is not None:
                if stored[0] != f"{url.path}?{raw_body.decode()}":
                    self._send(
                        *_error(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters.",
                        )
                    )
                    return
                self._send(stored[1], json.loads(stored[2]), {"Idempotent-Replayed": "true"})
                return
        status, body = self._route(self.command, url.path, params)
        raw = self._send(status, body)
        if self.command == "POST" and key and status < 500:
            with self.state.lock:
                self.state.idempotency[key] = (f"{url.path}?{raw_body.decode()}", status, raw)

    def _route(self, method: str, path: str, p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        n = next(self.state.counter)
        if method == "POST" and path == "/v1/customers":
            customer = {
                "id": f"cus_fake{n:08d}",
                "object": "customer",
                "email": p.get("email"),
                "metadata": {k[9:-1]: v for k, v in p.items() if k.startswith("metadata[")},
                "created": int(time.time()),
                "livemode": False,
            }
            self.state.customers[customer["id"]] = customer
            return 200, customer
        if method == "POST" and path == "/v1/checkout/sessions":
            mode = p.get("mode")
            if mode not in {"payment", "subscription"}:
                return _error(400, "invalid_request_error", "Invalid mode.", "parameter_invalid_empty")
            if p.get("customer") not in self.state.customers:
                return _error(400, "invalid_request_error", "No such customer.", "resource_missing")
            if "line_items[0][price]" not in p and "line_items[0][price_data][unit_amount]" not in p:
                return _error(400, "invalid_request_error", "Missing line_items.", "parameter_missing")
            recurring = "line_items[0][price_data][recurring][interval]" in p or "line_items[0][price]" in p
            if mode == "subscription" and not recurring:
                return _error(400, "invalid_request_error", "A recurring price is required.")
            session_id = f"cs_test_fake{n:08d}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": mode,
                "customer": p["customer"],
                "client_reference_id": p.get("client_reference_id"),
                "metadata": {k[9:-1]: v for k, v in p.items() if k.startswith("metadata[")},
                "payment_status": "unpaid",
                "status": "open",
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                "success_url": p.get("success_url"),
                "cancel_url": p.get("cancel_url"),
                "livemode": False,
            }
            self.state.sessions[session_id] = session
            return 200, session
        if method == "POST" and path == "/v1/billing_portal/sessions":
            if p.get("customer") not in self.state.customers:
                return _error(400, "invalid_request_error", "No such customer.", "resource_missing")
            return 200, {
                "id": f"bps_fake{n:08d}",
                "object": "billing_portal.session",
                "customer": p["customer"],
                "return_url": p.get("return_url"),
                "url": f"https://billing.stripe.com/p/session/test_{n}",
                "livemode": False,
            }
        if method == "GET" and path == "/v1/invoices":
            mine = [i for i in self.state.invoices if i["customer"] == p.get("customer")]
            mine.sort(key=lambda i: i["created"], reverse=True)
            if "starting_after" in p:
                ids = [i["id"] for i in mine]
                mine = mine[ids.index(p["starting_after"]) + 1 :] if p["starting_after"] in ids else []
            limit = int(p.get("limit", "10"))
            return 200, {
                "object": "list",
                "url": "/v1/invoices",
                "has_more": len(mine) > limit,
                "data": mine[:limit],
            }
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()


@contextmanager
def running_stripe_server() -> Iterator[tuple[str, StripeState]]:
    """Start the server on an ephemeral 127.0.0.1 port; yields (base URL, state)."""
    state = StripeState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
