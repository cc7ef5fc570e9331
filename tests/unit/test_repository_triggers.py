"""Tasks triggered from GitHub, on the in-memory adapters: signed deliveries go through the webhook use case
into ``repository_events``, then ``ProcessRepositoryEvents`` turns them into tasks."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from asynccoder.adapters.github.webhooks import GitHubWebhooks, sign
from asynccoder.adapters.memory.code_hosting import InMemoryCodeHost
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.tasks import tasks_state
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.billing.credits import GrantCredits, GrantCreditsInput
from asynccoder.application.code_hosting.repositories import CodeHostingConfig, UserTokens
from asynccoder.application.code_hosting.webhooks import IngestGitHubWebhook
from asynccoder.application.ports.code_hosting import HostedPullRequest, WebhookDelivery
from asynccoder.application.tasks.engine import TaskServices
from asynccoder.application.tasks.triggers import ProcessRepositoryEvents, TriggerOutcome, TriggerPolicy
from asynccoder.domain.code_hosting import Permission, PullRequestState, Repository, RepositoryEvent
from asynccoder.domain.identity import User
from asynccoder.domain.tasks import Task, TaskMode
from asynccoder.domain.triggers import DEFAULT_REVIEW_INSTRUCTIONS, parse_mention
from asynccoder.ioc.settings import SettingsError, load_settings
from tests.support.builders import T0, make_user
from tests.support.code_hosting import BOX, SECRET, make_repository, seed_repository
from tests.support.github_payloads import FULL_NAME, issue_comment_event, pull_request_event
from tests.support.system import ManualClock
from tests.support.task_engine import EngineWorld, sequential_ids

SHA_1 = "1" * 40
SHA_2 = "2" * 40
TASKS_URL = "https://coder.example/api/v1/tasks"


class TriggerWorld:
    """One in-memory store behind the webhook receiver, the task engine's submit and the consumer."""

    def __init__(self) -> None:
        self.store = InMemoryStore()
        self.clock = ManualClock(T0)
        self.ids = sequential_ids()
        self.engine = EngineWorld(lambda: InMemoryUnitOfWork(self.store), self.clock, ids=self.ids)
        self.host = InMemoryCodeHost(now=T0)
        self.cap = 20
        self.admin, self.writer, self.reader = make_user(), make_user(), make_user()
        self.logins = {self.admin.id: "alice", self.writer.id: "walt", self.reader.id: "rita"}

    async def seed(self, **repository: Any) -> Repository:
        await self.engine.seed()
        self.repo = await seed_repository(
            InMemoryUnitOfWork(self.store),
            users=[
                (self.admin, Permission.ADMIN),
                (self.writer, Permission.WRITE),
                (self.reader, Permission.READ),
            ],
            repository=make_repository(auto_review=True, **repository),
            logins=self.logins,
        )
        for user in (self.admin, self.writer, self.reader):
            await GrantCredits(InMemoryUnitOfWork(self.store), self.clock, self.ids)(
                GrantCreditsInput(user.id, 10_000, f"seed:{user.id}")
            )
        self.host.add_repository(
            FULL_NAME,
            host_id=1,
            access={f"gho_{login}": Permission.WRITE for login in self.logins.values()},
        )
        self.host.pulls[(FULL_NAME, 1347)] = HostedPullRequest(
            1347, "t", None, PullRequestState.OPEN, "octocat", "new-topic", SHA_1, "main", None, False, T0, T0
        )
        return self.repo

    async def deliver(self, event: str, payload: dict[str, Any]) -> str:
        body = json.dumps(payload).encode()
        ingest = IngestGitHubWebhook(
            InMemoryUnitOfWork(self.store),
            GitHubWebhooks(),
            BOX,
            self.clock,
            self.ids,
            CodeHostingConfig(webhook_url="https://coder.example/api/v1/webhooks/github"),
            self.host,
            UserTokens(InMemoryUnitOfWork(self.store), BOX, self.host),
        )
        outcome = await ingest(WebhookDelivery(event, str(uuid.uuid4()), sign(SECRET, body), body))
        return outcome.detail

    def consumer(self) -> ProcessRepositoryEvents:
        uow = InMemoryUnitOfWork(self.store)
        return ProcessRepositoryEvents(
            uow,
            self.clock,
            self.engine.submit_use_case(),
            self.host,
            UserTokens(uow, BOX, self.host),
            TriggerPolicy(task_url_base=TASKS_URL, daily_cap_per_repository=self.cap),
        )

    async def process(self) -> list[TriggerOutcome]:
        return await self.consumer()()

    def tasks(self) -> list[Task]:
        return sorted(tasks_state(self.store).tasks.values(), key=lambda t: t.created_at)

    def events(self) -> list[RepositoryEvent]:
        return sorted(self.store.state.code_hosting.events.values(), key=lambda e: e.id)

    async def finish_tasks(self) -> None:
        for task in self.tasks():
            if not task.status.is_terminal:
                await self.engine.cancel_use_case()(self._user(task.user_id).as_actor(), task.id)

    def _user(self, user_id: uuid.UUID) -> User:
        return next(u for u in (self.admin, self.writer, self.reader) if u.id == user_id)


def comment(
    body: str, login: str = "walt", *, on_pull_request: bool = True, comment_id: int = 901
) -> dict[str, Any]:
    payload = issue_comment_event(on_pull_request=on_pull_request, comment_id=comment_id)
    payload["comment"]["body"] = body
    payload["comment"]["user"] = {"login": login, "id": 77, "type": "User"}
    return payload


@pytest.fixture
async def world() -> TriggerWorld:
    w = TriggerWorld()
    await w.seed()
    return w


# --- auto-review -------------------------------------------------------------------------------------


async def test_five_deliveries_about_one_head_commit_create_one_review_task(world: TriggerWorld) -> None:
    for action in ("opened", "synchronize", "synchronize", "synchronize", "ready_for_review"):
        await world.deliver("pull_request", pull_request_event(action, head_sha=SHA_1))
    assert len(world.events()) == 5  # five outbox rows: the receiver does not deduplicate by commit

    outcomes = await world.process()

    assert [o.outcome for o in outcomes] == ["task_created"] + ["task_exists"] * 4
    [task] = world.tasks()
    assert (task.mode, task.pull_request_number, task.user_id) == (TaskMode.PR_REVIEW, 1347, world.admin.id)
    assert SHA_1 in task.instructions
    assert all(e.processed_at is not None and e.payload["task_id"] == str(task.id) for e in world.events())
    assert await world.process() == []  # nothing pending any more


async def test_a_crash_before_marking_the_event_does_not_create_a_second_task(world: TriggerWorld) -> None:
    await world.deliver("pull_request", pull_request_event("opened", head_sha=SHA_1))
    await world.process()
    [event] = world.events()
    world.store.state.code_hosting.events[event.id] = replace(
        event, processed_at=None
    )  # as if the mark never committed

    [again] = await world.process()

    assert again.outcome == "task_exists"
    assert len(world.tasks()) == 1


async def test_a_new_head_commit_gets_its_own_review(world: TriggerWorld) -> None:
    await world.deliver("pull_request", pull_request_event("opened", head_sha=SHA_1))
    await world.process()
    await world.finish_tasks()  # the Free plan runs one task at a time
    await world.deliver(
        "pull_request", pull_request_event("synchronize", head_sha=SHA_2, updated_at="2026-11-30T13:00:00Z")
    )

    [outcome] = await world.process()

    assert outcome.outcome == "task_created"
    assert [SHA_1 in t.instructions for t in world.tasks()] == [True, False]


async def test_drafts_are_skipped(world: TriggerWorld) -> None:
    await world.deliver("pull_request", pull_request_event("opened", head_sha=SHA_1, draft=True))
    assert world.events() == []  # the receiver queues nothing for a draft
    # a pull request turned into a draft after its event was queued is skipped by the consumer
    await world.deliver("pull_request", pull_request_event("ready_for_review", head_sha=SHA_1))
    await world.deliver(
        "pull_request",
        pull_request_event(
            "converted_to_draft", head_sha=SHA_1, draft=True, updated_at="2026-11-30T13:00:00Z"
        ),
    )

    [outcome] = await world.process()

    assert (outcome.outcome, outcome.reason) == ("skipped", "draft")
    assert world.tasks() == []
    assert world.events()[0].payload["outcome"] == "skipped"


async def test_auto_review_off_at_consumption_skips_the_event(world: TriggerWorld) -> None:
    await world.deliver("pull_request", pull_request_event("opened", head_sha=SHA_1))
    world.store.state.code_hosting.repositories[world.repo.id] = replace(world.repo, auto_review=False)

    [outcome] = await world.process()

    assert (outcome.outcome, outcome.reason) == ("skipped", "auto_review_off")
    assert world.tasks() == []


async def test_over_the_daily_cap_the_event_is_recorded_as_skipped(world: TriggerWorld) -> None:
    world.cap = 1
    await world.deliver("pull_request", pull_request_event("opened", head_sha=SHA_1))
    await world.process()
    await world.finish_tasks()
    later = "2026-11-30T13:00:00Z"
    await world.deliver("pull_request", pull_request_event("synchronize", head_sha=SHA_2, updated_at=later))

    [capped] = await world.process()

    assert (capped.outcome, capped.reason) == ("skipped", "daily_cap")
    assert len(world.tasks()) == 1
    assert world.events()[-1].payload["reason"] == "daily_cap"

    world.clock.advance(timedelta(days=1))  # a new UTC day
    await world.deliver(
        "pull_request",
        pull_request_event("synchronize", head_sha="3" * 40, updated_at="2026-11-30T14:00:00Z"),
    )
    [next_day] = await world.process()
    assert next_day.outcome == "task_created"


async def test_a_payer_without_credits_records_the_refusal(world: TriggerWorld) -> None:
    async with InMemoryUnitOfWork(world.store) as uow:
        account = await uow.credits.get_account(world.admin.id)
    assert account is not None
    world.store.state.billing.accounts[world.admin.id] = replace(account, available=0)
    await world.deliver("pull_request", pull_request_event("opened", head_sha=SHA_1))

    [outcome] = await world.process()

    assert (outcome.outcome, outcome.reason) == ("skipped", "insufficient_credits")


# --- comment commands --------------------------------------------------------------------------------


async def test_a_collaborators_comment_command_creates_a_task_and_replies_with_its_link(
    world: TriggerWorld,
) -> None:
    detail = await world.deliver(
        "issue_comment", comment("@asynccoder debug The parser drops the last line.")
    )
    assert detail == "issue_comment created"

    [outcome] = await world.process()

    assert outcome.outcome == "task_created"
    [task] = world.tasks()
    assert (task.mode, task.user_id) == (TaskMode.DEBUG, world.writer.id)
    assert task.instructions.endswith("The parser drops the last line.")
    [(full_name, number, body)] = world.host.comments
    assert (full_name, number) == (FULL_NAME, 1347)
    assert f"{TASKS_URL}/{task.id}" in body


async def test_redelivered_comments_create_one_task_and_one_reply(world: TriggerWorld) -> None:
    for _ in range(3):
        await world.deliver("issue_comment", comment("@asynccoder ask Where is the config read?"))

    outcomes = await world.process()

    assert [o.outcome for o in outcomes] == ["task_created", "task_exists", "task_exists"]
    assert len(world.tasks()) == 1
    assert len(world.host.comments) == 1


async def test_writing_modes_need_write_access(world: TriggerWorld) -> None:
    await world.deliver("issue_comment", comment("@asynccoder debug Fix it.", login="rita"))

    [outcome] = await world.process()

    assert (outcome.outcome, outcome.reason) == ("skipped", "repository_write_access_required")
    assert world.tasks() == []
    assert world.host.comments == []


async def test_a_reader_may_ask(world: TriggerWorld) -> None:
    await world.deliver("issue_comment", comment("@asynccoder ask What does main do?", login="RITA"))

    [outcome] = await world.process()

    assert outcome.outcome == "task_created"
    assert world.tasks()[0].user_id == world.reader.id


async def test_unknown_commenters_are_ignored_without_a_reply(world: TriggerWorld) -> None:
    await world.deliver("issue_comment", comment("@asynccoder ask Anything?", login="mallory"))

    [outcome] = await world.process()

    assert (outcome.outcome, outcome.reason) == ("skipped", "unknown_commenter")
    assert world.tasks() == []
    assert world.host.comments == []


async def test_a_review_command_on_a_pull_request_reviews_it(world: TriggerWorld) -> None:
    await world.deliver("issue_comment", comment("@asynccoder review"))

    await world.process()

    [task] = world.tasks()
    assert (task.mode, task.pull_request_number) == (TaskMode.PR_REVIEW, 1347)


async def test_comments_without_a_command_and_bot_comments_queue_nothing(world: TriggerWorld) -> None:
    await world.deliver("issue_comment", comment("Thanks, @asynccoder ask me later."))
    bot = comment("@asynccoder ask loop?", login="asynccoder[bot]")
    bot["comment"]["user"]["type"] = "Bot"
    await world.deliver("issue_comment", bot)
    edited = comment("@asynccoder ask Edited?")
    edited["action"] = "edited"
    await world.deliver("issue_comment", edited)

    assert world.events() == []


async def test_a_comment_on_a_plain_issue_is_recorded_as_a_command(world: TriggerWorld) -> None:
    detail = await world.deliver(
        "issue_comment", comment("@asynccoder architect Plan a plugin system.", on_pull_request=False)
    )

    assert detail == "issue_comment command"
    [event] = world.events()
    assert (event.kind, event.payload["on_pull_request"]) == ("comment_command", "false")


# --- the command grammar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@asynccoder ask Why?", (TaskMode.ASK, "Why?")),
        ("Hi!\n  @AsyncCoder fix the bug\nin two lines", (TaskMode.DEBUG, "the bug\nin two lines")),
        ("@asynccoder docs Document the API.", (TaskMode.DOCUMENTATION, "Document the API.")),
        ("@asynccoder plan A cache.", (TaskMode.ARCHITECT, "A cache.")),
        ("@asynccoder review", (TaskMode.PR_REVIEW, DEFAULT_REVIEW_INSTRUCTIONS)),
        ("@asynccoder ask", None),
        ("@asynccoder dance now", None),
        ("please @asynccoder ask why", None),
        ("@asynccoderx ask why", None),
    ],
)
def test_the_mention_command_grammar(body: str, expected: tuple[TaskMode, str] | None) -> None:
    command = parse_mention(body)
    assert (None if command is None else (command.mode, command.instructions)) == expected


async def test_the_workers_maintenance_pass_consumes_the_events(world: TriggerWorld) -> None:
    await world.deliver("pull_request", pull_request_event("opened", head_sha=SHA_1))

    @contextlib.asynccontextmanager
    async def scope() -> AsyncIterator[TaskServices]:
        async with world.engine.services() as services:
            yield replace(services, triggers=world.consumer())

    worker = world.engine.worker(runner=None)
    worker.scope = scope
    await worker.maintain()

    [task] = world.tasks()
    assert task.mode is TaskMode.PR_REVIEW
    assert world.events()[0].processed_at is not None


def test_the_daily_cap_is_a_setting(tmp_path: Any) -> None:
    base = {"ASYNCCODER_DATA_DIR": str(tmp_path)}
    assert load_settings(base).trigger_daily_cap_per_repository == 20
    settings = load_settings({**base, "TRIGGER_DAILY_CAP_PER_REPOSITORY": "3"})
    assert settings.trigger_daily_cap_per_repository == 3
    with pytest.raises(SettingsError):
        load_settings({**base, "TRIGGER_DAILY_CAP_PER_REPOSITORY": "0"})
