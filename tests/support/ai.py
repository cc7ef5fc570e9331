"""Builders for AI tests: fast retry policies, common requests, a plan-less tier entitlement, pong models."""

from __future__ import annotations

import dataclasses
from uuid import UUID

from asynccoder.adapters.ai.resilience import CallOptions, RetryPolicy
from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory, text_turn
from asynccoder.application.ports.ai import TierEntitlements
from asynccoder.domain.ai import ChatRequest, Message, ModelTier, ToolDefinition, Usage


class RecordingSleep:
    """A ``sleep`` that returns at once and remembers the delays it was asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def fast_options(max_attempts: int = 3, *, read_timeout: float = 5.0) -> tuple[CallOptions, RecordingSleep]:
    sleep = RecordingSleep()
    policy = RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.05, sleep=sleep)
    return CallOptions(read_timeout=read_timeout, connect_timeout=2.0, retry=policy), sleep


READ_FILE = ToolDefinition(
    name="read_file",
    description="Read a file of the repository.",
    input_schema={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


def hello_request(model: str = "some-model", **changes: object) -> ChatRequest:
    request = ChatRequest(
        model=model, messages=(Message.user("Say hello"),), system="Be brief.", max_tokens=256
    )
    return dataclasses.replace(request, **changes)  # type: ignore[arg-type]


class AllTiersEntitlements(TierEntitlements):
    """Every user may use every tier: for use-case tests that do not exercise plan entitlements."""

    async def allowed_tiers(self, user_id: UUID) -> frozenset[ModelTier]:
        return frozenset(ModelTier)


def pong_models() -> ScriptedChatModelFactory:
    """Scripted models that answer "pong" to every call (12 input, 1 output tokens) unless ``behaviour``
    fails it; ``calls`` records each call with the key it was made with."""
    return ScriptedChatModelFactory(default=text_turn("pong", Usage(12, 1)))
