"""Each money, key, subscription and code-host change writes its outbound webhook event in its own
transaction: ``credits.low``, ``budget.exceeded``, ``api_key.invalid``, ``subscription.changed``,
``review.posted`` (``pull_request.opened``: tests/integration/test_webhook_pull_requests.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.stripe.memory_gateway import InMemoryPaymentGateway, sign_payload
from asynccoder.application.ai.usage import RecordModelUsage, RecordModelUsageInput
from asynccoder.application.billing.stripe_events import HandleStripeEvent, HandleStripeEventInput
from asynccoder.application.code_hosting.pull_requests import record_posted_review_in
from asynccoder.application.ports.code_hosting import PostedReview
from asynccoder.domain.ai import Provider, Usage
from asynccoder.domain.ai_catalogue import ApiKey, ApiKeyStatus, CallOutcome, KeySource
from asynccoder.domain.code_hosting import PullRequest, PullRequestState
from asynccoder.domain.identity import User
from asynccoder.domain.tasks import FailureReason, TaskStatus
from tests.support.billing import PRO, event, subscription_object
from tests.support.builders import T0, new_id
from tests.support.system import ManualClock
from tests.support.task_engine import Call, EngineWorld, ScriptedTaskRunner, sequential_ids
from tests.support.webhooks import WebhookKit

RECEIVER = "http://127.0.0.1:9/hooks"
STRIPE_SECRET = "whsec_stripe_test"


@pytest.fixture
async def world() -> EngineWorld:
    store = InMemoryStore()
    w = EngineWorld(lambda: InMemoryUnitOfWork(store), ManualClock(T0), ids=sequential_ids())
    await w.seed()
    return w


@pytest.fixture
def kit(world: EngineWorld) -> WebhookKit:
    return WebhookKit(world.new_uow, world.clock, world.ids)


async def _sent(kit: WebhookKit) -> list[dict[str, Any]]:
    await kit.deliver()("w1")
    return [json.loads(r.body) for r in kit.sender.sent]  # type: ignore[attr-defined]


async def test_reserving_credits_below_the_threshold_sends_credits_low_once(
    world: EngineWorld, kit: WebhookKit
) -> None:
    user, repo = await world.user_with_repository(credits=1_000)
    await kit.register(user, RECEIVER, event_types=("credits.low",), credits_low_threshold=500)
    first = await world.submit(user, repo, budget_cap_credits=300)  # 700 left: above the threshold
    assert await _sent(kit) == []
    await world.cancel_use_case()(user.as_actor(), first.task.id)  # back to 1,000
    await world.submit(user, repo, budget_cap_credits=600)  # 400 left: crossed
    [body] = await _sent(kit)
    assert body["type"] == "credits.low"
    assert body["object"] == {"object": "credit_balance", "user_id": str(user.id), "available_credits": 400}


async def test_a_task_stopped_by_its_budget_sends_budget_exceeded(
    world: EngineWorld, kit: WebhookKit
) -> None:
    user, repo = await world.user_with_repository()
    await kit.register(user, RECEIVER, event_types=("budget.exceeded", "task.failed"))
    task = (await world.submit(user, repo, budget_cap_credits=10)).task
    await world.worker(ScriptedTaskRunner(((Call("big", max_tokens=4_096),),))).run_one()
    bodies = await _sent(kit)
    assert sorted(b["type"] for b in bodies) == ["budget.exceeded", "task.failed"]
    exceeded = next(b for b in bodies if b["type"] == "budget.exceeded")
    assert exceeded["object"]["id"] == str(task.id)
    assert exceeded["object"]["budget_cap_credits"] == 10
    assert exceeded["object"]["failure_reason"] == FailureReason.BUDGET_EXHAUSTED.value
    assert exceeded["object"]["status"] == TaskStatus.FAILED.value


async def _own_key(world: EngineWorld, user: User) -> ApiKey:
    key = ApiKey(
        id=new_id(),
        user_id=user.id,
        provider=Provider.ANTHROPIC,
        label="mine",
        last4="abcd",
        sealed_key="v1.k1.sealed",
        status=ApiKeyStatus.ACTIVE,
        monthly_cap_credits=None,
        created_at=T0,
        updated_at=T0,
    )
    async with world.new_uow() as uow:
        await uow.api_keys.add(key)
        await uow.commit()
    return key


async def test_a_rejected_own_key_sends_api_key_invalid_once(world: EngineWorld, kit: WebhookKit) -> None:
    user, _ = await world.user_with_repository()
    await kit.register(user, RECEIVER, event_types=("api_key.invalid",))
    key = await _own_key(world, user)
    record = RecordModelUsage(world.new_uow(), world.clock, world.ids)
    call = RecordModelUsageInput(
        user.id, world.model.id, KeySource.BYOK, "claude", Usage(0, 0), 5, CallOutcome.AUTH_FAILED, key.id
    )
    await record(call)
    await record(call)  # already invalid: no second event
    [body] = await _sent(kit)
    assert body["type"] == "api_key.invalid"
    assert body["object"] == {
        "object": "api_key",
        "id": str(key.id),
        "provider": "anthropic",
        "last4": "abcd",
    }
    assert "sealed" not in json.dumps(body)


async def test_a_stripe_subscription_event_sends_subscription_changed_once_per_event(
    world: EngineWorld, kit: WebhookKit
) -> None:
    clock = world.clock
    assert isinstance(clock, ManualClock)
    user, _ = await world.user_with_repository()
    await kit.register(user, RECEIVER, event_types=("subscription.changed",))
    handle = HandleStripeEvent(
        world.new_uow(), InMemoryPaymentGateway(clock, STRIPE_SECRET), clock, world.ids
    )
    created = int(T0.timestamp())
    payload = event(
        "evt_sub_1",
        "customer.subscription.created",
        subscription_object("sub_1", str(user.id), str(PRO.id), "active"),
        created=created,
    )
    for _ in range(2):  # Stripe redelivers
        await handle(HandleStripeEventInput(payload, sign_payload(payload, STRIPE_SECRET, created)))
    clock.advance(timedelta(seconds=1))
    [body] = await _sent(kit)
    assert body["type"] == "subscription.changed"
    assert (body["object"]["status"], body["object"]["plan_id"]) == ("active", str(PRO.id))


async def test_recording_a_posted_review_sends_review_posted(world: EngineWorld, kit: WebhookKit) -> None:
    user, repo = await world.user_with_repository()
    await kit.register(user, RECEIVER, event_types=("review.posted",))
    pull = PullRequest(
        id=new_id(),
        repository_id=repo.id,
        number=7,
        title="Fix the build",
        state=PullRequestState.OPEN,
        author_login="ada",
        head_ref="fix",
        head_sha="abc123",
        base_ref="main",
        html_url="https://github.com/acme/widgets/pull/7",
        created_at=T0,
        updated_at=T0,
    )
    async with world.new_uow() as uow:
        pull = await uow.pull_requests.upsert(pull)
        review = await record_posted_review_in(
            uow,
            world.ids,
            pull,
            PostedReview(host_review_id=99, state="commented", submitted_at=T0),
            body="Looks good",
            commit_sha="abc123",
            comments=(),
            now=T0,
            user_id=user.id,
        )
        await uow.commit()
    [body] = await _sent(kit)
    assert body["type"] == "review.posted"
    assert body["object"]["id"] == str(review.id)
    assert body["object"]["pull_request"]["number"] == 7
