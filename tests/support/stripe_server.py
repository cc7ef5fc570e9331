"""A local HTTP server speaking the part of Stripe's API that the gateway uses.

Form-encoded requests in, JSON objects in Stripe's shapes out. It checks ``Authorization: Bearer
sk_test_...`` and requires an ``Idempotency-Key`` on every POST, with Stripe's idempotency semantics
(https://docs.stripe.com/api/idempotent_requests): the first result under a key is saved once the endpoint
ran (not a 400 for invalid parameters, not a 5xx before it ran) and a repeat with the same parameters gets
it again, with ``Idempotent-Replayed: true``; the same key with other parameters, or on another endpoint,
is a 400 ``idempotency_error``; a repeat while the first is still running is a 409 ``idempotency_error``.
``drop_next_response`` makes the server run a request and then hang up before answering, as a network
failure after Stripe did the work would. Errors use Stripe's ``{"error": {...}}`` shape.
"""

from __future__ import annotations

import itertools
import json
import socket
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
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)  # GET /v1/subscriptions/{id}
    # key -> (method and path, sorted parameters, status, body); a key maps to None while it runs
    idempotency: dict[str, tuple[str, list[tuple[str, str]], int, bytes] | None] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer the next requests with
    drop_next_response: int = 0  # how many of the next requests run but get no answer (connection closed)
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
        pairs = parse_qsl(raw_body.decode(), keep_blank_values=True)
        params = dict(pairs) if self.command == "POST" else query
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
            endpoint, signature = f"{self.command} {url.path}", sorted(pairs)
            with self.state.lock:
                known = key in self.state.idempotency
                stored = self.state.idempotency.get(key)
                if not known:
                    self.state.idempotency[key] = None  # running
            if known and stored is None:
                self._send(
                    *_error(
                        409,
                        "idempotency_error",
                        "There is currently another in-progress request using this Idempotent Key "
                        "(that probably means you submitted twice, and the other request is still going "
                        "through). Please try again later.",
                    )
                )
                return
            if stored is not None:
                if stored[0] != endpoint:
                    self._send(
                        *_error(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used for the same endpoint they "
                            "were first used for.",
                        )
                    )
                elif stored[1] != signature:
                    self._send(
                        *_error(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they "
                            "were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                        )
                    )
                else:
                    self._send(stored[2], json.loads(stored[3]), {"Idempotent-Replayed": "true"})
                return
            status, body = self._route(self.command, url.path, params)
            with self.state.lock:
                drop = self.state.drop_next_response > 0
                self.state.drop_next_response -= int(drop)
                if status == 400:  # the endpoint refused the parameters: nothing is saved
                    del self.state.idempotency[key]
                else:
                    self.state.idempotency[key] = (endpoint, signature, status, json.dumps(body).encode())
            if drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(status, body)
            return
        self._send(*self._route(self.command, url.path, params))

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
        if method == "GET" and path.startswith("/v1/subscriptions/"):
            subscription = self.state.subscriptions.get(path.removeprefix("/v1/subscriptions/"))
            if subscription is None:
                return _error(
                    404,
                    "invalid_request_error",
                    f"No such subscription: '{path.removeprefix('/v1/subscriptions/')}'",
                    "resource_missing",
                )
            return 200, subscription
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
