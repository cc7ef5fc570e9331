"""The coding agent's pull request opening writes ``pull_request.opened`` in the transaction that records the
pull request (real git remote, PyGithub against the local GitHub API server)."""

from __future__ import annotations

import json

from asynccoder.domain.tasks import TaskMode
from tests.integration.test_coding_agent_modes import (  # the agent's world and its fixtures
    FIX,
    World,
    call,
    github,
    make_execution,
    models,
    scripted,
    world,
)
from tests.support.builders import make_user
from tests.support.webhooks import RecordingWebhookSender, WebhookKit

__all__ = ["github", "world"]


async def test_opening_a_pull_request_sends_pull_request_opened(world: World) -> None:
    kit = WebhookKit(lambda: world.uow, world.clock, world.ids)
    chat = scripted(
        call("edit", FIX),
        call("submit", {"title": "Fix add()", "summary": "s"}),
        call("submit", {"title": "Fix add()", "summary": "s"}),
    )
    execution = make_execution(TaskMode.DEBUG, models(chat))
    owner = make_user(id=execution.user_id)
    await kit.register(owner, "http://127.0.0.1:9/hooks", event_types=("pull_request.opened",))
    outcome = await world.agent().run(execution)
    assert outcome.result is not None
    assert outcome.result.pull_request_number == 1
    assert await kit.deliver()("w1") == 1
    assert isinstance(kit.sender, RecordingWebhookSender)
    [body] = [json.loads(r.body) for r in kit.sender.sent]
    assert body["type"] == "pull_request.opened"
    assert (body["object"]["number"], body["object"]["title"]) == (1, "Fix add()")
