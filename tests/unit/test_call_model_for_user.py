"""CallModelForUser: selection, keys, fallback and usage recording together, on in-memory adapters."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from asynccoder.adapters.ai.scripted import text_turn
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.ai.call_model import (
    CallModelForUser,
    CallModelInput,
)
from asynccoder.application.ai.complete_with_fallback import FallbackExhausted
from asynccoder.domain.ai import ChatRequest, Message, ModelTier, Provider, ProviderOverloaded, Usage
from asynccoder.domain.ai_catalogue import CallOutcome, KeySource, TaskMode, api_key_context
from tests.support.ai import AllTiersEntitlements
from tests.support.ai_catalogue_builders import make_api_key, make_config, make_model, make_price
from tests.support.app import make_settings
from tests.support.builders import new_id
from tests.support.system import SequentialIdGenerator
from tests.support.world import World

PLATFORM = {Provider.ANTHROPIC: "sk-platform-anthropic", Provider.OPENAI: "sk-platform-openai"}
REQUEST = ChatRequest(model="", messages=(Message.user("Explain this repository."),), max_tokens=256)


class CallWorld(World):
    def __init__(self) -> None:
        settings = make_settings(
            claude_api_key=PLATFORM[Provider.ANTHROPIC], openai_api_key=PLATFORM[Provider.OPENAI]
        )
        super().__init__(
            settings, ids=SequentialIdGenerator(start=50_000), entitlements=AllTiersEntitlements()
        )
        self.factory = self.models
        self.user_id = new_id()
        self.claude = make_model(
            provider=Provider.ANTHROPIC,
            model_name="claude-sonnet-4-6",
            tier=ModelTier.STANDARD,
            default_modes=frozenset({TaskMode.ASK}),
        )
        self.gpt = make_model(
            provider=Provider.OPENAI,
            model_name="gpt-5",
            tier=ModelTier.STANDARD,
            default_modes=frozenset({TaskMode.ASK}),
        )

    async def seed(self) -> None:
        await self.open()
        self.call = await self.get(CallModelForUser)
        async with self.uow() as uow:
            for provider in (Provider.ANTHROPIC, Provider.OPENAI):
                await uow.ai_catalogue.save_provider_config(make_config(provider))
            for model in (self.claude, self.gpt):
                await uow.ai_catalogue.add_model(model)
                await uow.ai_catalogue.add_price(make_price(model.id))  # $3 in, $15 out per million
            await uow.commit()

    async def usage_log(self) -> list[tuple[str, CallOutcome, KeySource, int, int]]:
        return [
            (e.answered_model, e.outcome, e.key_source, e.usage.input_tokens, e.charged_credits)
            for e in self.store.state.ai_catalogue.usage_logs
        ]


@pytest.fixture
async def world() -> AsyncIterator[CallWorld]:
    async with CallWorld() as w:
        await w.seed()
        yield w


async def test_an_overloaded_provider_falls_back_and_usage_goes_to_the_model_that_answered(
    world: CallWorld,
) -> None:
    world.factory.model("claude-sonnet-4-6").add(ProviderOverloaded("overloaded", provider="anthropic"))
    world.factory.model("gpt-5").add(text_turn("It is a web API.", usage=Usage(100_000, 10_000)))

    result = await world.call(CallModelInput(world.user_id, TaskMode.ASK, REQUEST))

    assert result.response.text == "It is a web API."
    assert result.model_id == world.gpt.id
    # 100k input at $3/M + 10k output at $15/M = $0.45 = 450 credits, on the platform key.
    assert (result.cost_credits, result.charged_credits, result.key_source) == (450, 450, KeySource.PLATFORM)
    assert [a.outcome for a in result.attempts] == ["provider_overloaded", "ok"]
    assert await world.usage_log() == [
        ("claude-sonnet-4-6", CallOutcome.OVERLOADED, KeySource.PLATFORM, 0, 0),
        ("gpt-5", CallOutcome.OK, KeySource.PLATFORM, 100_000, 450),
    ]


async def test_the_users_own_key_is_used_and_no_platform_credits_are_charged(world: CallWorld) -> None:
    key = make_api_key(world.user_id, provider=Provider.ANTHROPIC)
    sealed = world.box.encrypt("sk-ant-users-own", context=api_key_context(key.id, world.user_id))
    async with InMemoryUnitOfWork(world.store) as uow:
        await uow.api_keys.add(dataclasses.replace(key, sealed_key=sealed))
        await uow.commit()
    world.factory.model("claude-sonnet-4-6").add(text_turn("Answer.", usage=Usage(1_000, 1_000)))

    result = await world.call(CallModelInput(world.user_id, TaskMode.ASK, REQUEST))

    assert result.key_source is KeySource.BYOK
    assert result.charged_credits == 0
    assert result.cost_credits > 0
    created = world.factory.created[-1]
    assert created[0].provider is Provider.ANTHROPIC


async def test_when_every_provider_fails_the_attempts_are_still_recorded(world: CallWorld) -> None:
    world.factory.model("claude-sonnet-4-6").add(ProviderOverloaded("overloaded", provider="anthropic"))
    world.factory.model("gpt-5").add(ProviderOverloaded("overloaded", provider="openai"))

    with pytest.raises(FallbackExhausted):
        await world.call(CallModelInput(world.user_id, TaskMode.ASK, REQUEST))

    assert [outcome for _, outcome, *_ in await world.usage_log()] == [CallOutcome.OVERLOADED] * 2
