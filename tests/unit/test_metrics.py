"""What the use cases count (on the in-memory metrics) and how the Prometheus adapter exposes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.observability.prometheus_metrics import PrometheusMetrics
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.application.ports.metrics import ModelCallMetric, OperationsSnapshot
from asynccoder.domain.ai import ProviderOverloaded, Usage
from asynccoder.domain.tasks import TaskMode
from tests.support.builders import T0
from tests.support.task_engine import MODEL_NAME, Call, EngineWorld, ScriptedTaskRunner


@pytest.fixture
async def world() -> EngineWorld:
    store = InMemoryStore()
    w = EngineWorld(lambda: InMemoryUnitOfWork(store), SystemClock(), turn_usage=Usage(1_000, 100, 400, 50))
    await w.seed()
    return w


async def test_a_task_run_counts_each_committed_transition_by_mode(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    await world.submit(user, repo, mode=TaskMode.DEBUG)
    world.script_answers(2)
    await world.worker(ScriptedTaskRunner(((Call("one"), Call("two")),))).run_one()
    assert dict(world.metrics.transitions) == {
        ("debug", "queued"): 1,
        ("debug", "running"): 1,
        ("debug", "succeeded"): 1,
    }
    assert dict(world.metrics.agent_steps) == {"debug": 2}


async def test_cancelling_a_queued_task_counts_the_cancellation(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    task = (await world.submit(user, repo)).task
    await world.cancel_use_case()(user.as_actor(), task.id)
    assert dict(world.metrics.transitions) == {("ask", "queued"): 1, ("ask", "cancelled"): 1}


async def test_a_refused_submission_counts_nothing(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=0)
    with pytest.raises(Exception, match="credits"):
        await world.submit(user, repo)
    assert not world.metrics.transitions


async def test_a_failed_model_attempt_is_counted_with_its_outcome_and_no_tokens(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    await world.submit(user, repo)
    world.chat.model(MODEL_NAME).add(ProviderOverloaded("busy", provider="anthropic"))
    await world.worker(ScriptedTaskRunner(((Call("first"),),))).run_one()
    [failed] = world.metrics.model_calls
    assert (failed.provider, failed.model, failed.outcome) == ("anthropic", MODEL_NAME, "overloaded")
    assert (failed.input_tokens, failed.output_tokens, failed.charged_credits) == (0, 0, 0)
    assert world.metrics.transitions[("ask", "failed")] == 1
    assert not world.metrics.agent_steps


async def test_an_answered_call_carries_usage_and_charged_credits(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    await world.submit(user, repo)
    world.script_answers(1)
    await world.worker(ScriptedTaskRunner(((Call("one"),),))).run_one()
    [call] = world.metrics.model_calls
    assert (call.provider, call.model, call.outcome) == ("anthropic", MODEL_NAME, "ok")
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens, call.cache_write_tokens) == (
        1_000,
        100,
        400,
        50,
    )
    assert call.charged_credits > 0


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_the_prometheus_adapter_exposes_calls_tokens_credits_and_latency_by_provider_and_model() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    metrics.model_called(ModelCallMetric("anthropic", "claude-x", "ok", 1_500, 10, 20, 30, 40, 7))
    metrics.model_called(ModelCallMetric("anthropic", "claude-x", "rate_limited", 120))
    model = {"provider": "anthropic", "model": "claude-x"}
    assert _value(registry, "asynccoder_model_calls_total", **model, outcome="ok") == 1
    assert _value(registry, "asynccoder_model_calls_total", **model, outcome="rate_limited") == 1
    for kind, count in (("input", 10), ("output", 20), ("cache_read", 30), ("cache_write", 40)):
        assert _value(registry, "asynccoder_model_tokens_total", **model, kind=kind) == count
    assert _value(registry, "asynccoder_model_credits_total", **model) == 7
    latency = "asynccoder_model_call_duration_seconds"
    assert _value(registry, f"{latency}_sum", **model, outcome="ok") == 1.5
    assert _value(registry, f"{latency}_bucket", **model, outcome="ok", le="1.0") == 0
    assert _value(registry, f"{latency}_bucket", **model, outcome="ok", le="2.5") == 1


def test_the_prometheus_adapter_counts_transitions_steps_and_webhooks() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    metrics.task_transitioned("ask", "queued")
    metrics.task_transitioned("ask", "queued")
    metrics.agent_step("debug")
    metrics.webhook_delivered("stripe", "rejected")
    assert _value(registry, "asynccoder_task_transitions_total", mode="ask", status="queued") == 2
    assert _value(registry, "asynccoder_agent_steps_total", mode="debug") == 1
    assert _value(registry, "asynccoder_webhook_deliveries_total", source="stripe", outcome="rejected") == 1


def test_the_operational_levels_expose_the_oldest_queued_age_at_the_reading_time() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    metrics.operations_observed(OperationsSnapshot(3, T0, 2, 900), T0 + timedelta(seconds=90))
    assert _value(registry, "asynccoder_tasks_queued") == 3
    assert _value(registry, "asynccoder_tasks_oldest_queued_age_seconds") == 90
    assert _value(registry, "asynccoder_credit_holds_active") == 2
    assert _value(registry, "asynccoder_credit_holds_active_credits") == 900
    metrics.operations_observed(OperationsSnapshot(0, None, 0, 0), T0)
    assert _value(registry, "asynccoder_tasks_oldest_queued_age_seconds") == 0


def test_building_the_adapter_twice_on_one_registry_shares_its_collectors() -> None:
    registry = CollectorRegistry()
    PrometheusMetrics(registry).agent_step("ask")
    PrometheusMetrics(registry).agent_step("ask")
    assert _value(registry, "asynccoder_agent_steps_total", mode="ask") == 2
