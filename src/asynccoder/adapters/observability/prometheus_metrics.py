"""Metrics in Prometheus' client registry (the process-wide default one, which ``/metrics`` exposes).

The collectors are created once per process, whatever the number of apps or containers built in it (tests
build many), because a registry refuses a second metric of the same name. With several processes on one
host (``serve --workers K``) each has its own registry unless ``PROMETHEUS_MULTIPROC_DIR`` is set, in which
case prometheus_client writes per-process files there and ``/metrics`` sums them (see the README).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from asynccoder.application.ports.metrics import Metrics, ModelCallMetric, OperationsSnapshot

NAMESPACE = "asynccoder"
# Model calls take from a fraction of a second (a short completion) to minutes (a long, streamed answer).
MODEL_LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0, 120.0, 300.0)
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True, slots=True)
class _Collectors:
    transitions: Counter
    agent_steps: Counter
    model_calls: Counter
    model_tokens: Counter
    model_credits: Counter
    model_latency: Histogram
    webhooks: Counter
    queued: Gauge
    oldest_queued_age: Gauge
    active_holds: Gauge
    held_credits: Gauge


def _create(registry: CollectorRegistry) -> _Collectors:
    def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
        return Counter(name, doc, labels, namespace=NAMESPACE, registry=registry)

    def gauge(name: str, doc: str) -> Gauge:
        # Every process reads the same database, so any process' latest reading is the truth.
        return Gauge(name, doc, namespace=NAMESPACE, registry=registry, multiprocess_mode="mostrecent")

    model = ("provider", "model")
    return _Collectors(
        transitions=counter("task_transitions", "Tasks entering a status.", ("mode", "status")),
        agent_steps=counter("agent_steps", "Agent steps (model turns) completed.", ("mode",)),
        model_calls=counter(
            "model_calls", "Model call attempts by outcome (ok or the error).", (*model, "outcome")
        ),
        model_tokens=counter("model_tokens", "Tokens of answered model calls.", (*model, "kind")),
        model_credits=counter("model_credits", "Platform credits charged for model calls.", model),
        model_latency=Histogram(
            "model_call_duration_seconds",
            "Latency of model call attempts.",
            (*model, "outcome"),
            namespace=NAMESPACE,
            registry=registry,
            buckets=MODEL_LATENCY_BUCKETS,
        ),
        webhooks=counter(
            "webhook_deliveries", "Inbound webhook deliveries by outcome.", ("source", "outcome")
        ),
        queued=gauge("tasks_queued", "Tasks waiting in the queue."),
        oldest_queued_age=gauge(
            "tasks_oldest_queued_age_seconds", "Seconds since the oldest queued task was submitted (0: none)."
        ),
        active_holds=gauge("credit_holds_active", "Credit holds outstanding."),
        held_credits=gauge("credit_holds_active_credits", "Credits reserved by outstanding holds."),
    )


_lock = threading.Lock()
_by_registry: dict[int, tuple[CollectorRegistry, _Collectors]] = {}


def _collectors(registry: CollectorRegistry) -> _Collectors:
    with _lock:
        entry = _by_registry.get(id(registry))
        if entry is None or entry[0] is not registry:
            entry = (registry, _create(registry))
            _by_registry[id(registry)] = entry
        return entry[1]


class PrometheusMetrics(Metrics):
    """Records into ``registry`` (the default registry unless given)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self._c = _collectors(registry)

    def task_transitioned(self, mode: str, status: str) -> None:
        self._c.transitions.labels(mode, status).inc()

    def agent_step(self, mode: str) -> None:
        self._c.agent_steps.labels(mode).inc()

    def model_called(self, call: ModelCallMetric) -> None:
        c, model = self._c, (call.provider, call.model)
        c.model_calls.labels(*model, call.outcome).inc()
        c.model_latency.labels(*model, call.outcome).observe(max(call.latency_ms, 0) / 1000)
        tokens = (call.input_tokens, call.output_tokens, call.cache_read_tokens, call.cache_write_tokens)
        for kind, count in zip(TOKEN_KINDS, tokens, strict=True):
            if count:
                c.model_tokens.labels(*model, kind).inc(count)
        if call.charged_credits:
            c.model_credits.labels(*model).inc(call.charged_credits)

    def webhook_delivered(self, source: str, outcome: str) -> None:
        self._c.webhooks.labels(source, outcome).inc()

    def operations_observed(self, snapshot: OperationsSnapshot, at: datetime) -> None:
        c = self._c
        c.queued.set(snapshot.queued_tasks)
        oldest = snapshot.oldest_queued_at
        c.oldest_queued_age.set(max((at - oldest).total_seconds(), 0.0) if oldest is not None else 0.0)
        c.active_holds.set(snapshot.active_holds)
        c.held_credits.set(snapshot.held_credits)
