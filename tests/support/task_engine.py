"""A whole task engine on any unit-of-work factory: submit, run with a scripted runner, settle; plus the
``ScriptedTaskRunner`` (a stand-in for the coding agent that logs lines and calls models as told)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory, ScriptedTurn
from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.memory.code_hosting import InMemoryCodeHost
from asynccoder.adapters.memory.metrics import InMemoryMetrics
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.adapters.system.platform_access import ConfiguredPlatformKeys
from asynccoder.application.ai.api_keys import ResolveCallCredentials
from asynccoder.application.ai.call_model import CallModelForUser
from asynccoder.application.ai.complete_with_fallback import CompleteWithFallback
from asynccoder.application.ai.selection import SelectModels, SelectModelsForUser
from asynccoder.application.ai.usage import RecordModelUsage
from asynccoder.application.billing.credits import (
    ExpireHolds,
    ExtendHold,
    GrantCredits,
    GrantCreditsInput,
    ReleaseHold,
    SettleHold,
)
from asynccoder.application.ports.code_hosting import CodeHost
from asynccoder.application.ports.events import TaskEventNotifier
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.application.ports.task_execution import (
    LogLevel,
    TaskExecution,
    TaskOutcome,
)
from asynccoder.application.ports.task_queue import TASKS_TABLE_QUEUE, TaskQueue
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.tasks.engine import CodeHostTokens, EngineConfig, TaskServices, TaskWorker
from asynccoder.application.tasks.manage import CancelTask
from asynccoder.application.tasks.settlement import SettleEndedTasks, SettleTask
from asynccoder.application.tasks.submit import SubmitTask, SubmitTaskInput, SubmittedTask, TaskPolicy
from asynccoder.domain.ai import ChatRequest, Message, ModelTier, Provider, Usage
from asynccoder.domain.ai_catalogue import CatalogueModel, TaskMode, api_key_context
from asynccoder.domain.code_hosting import Permission, Repository, RepositoryAccess
from asynccoder.domain.identity import User
from asynccoder.domain.tasks import FailureReason, TaskResult
from tests.support.ai import AllTiersEntitlements
from tests.support.ai_catalogue_builders import make_api_key, make_config, make_model, make_price
from tests.support.billing import seed_catalogue
from tests.support.builders import T0, make_user, new_id
from tests.support.code_hosting import make_repository
from tests.support.system import SequentialIdGenerator

PLATFORM_KEYS = {Provider.ANTHROPIC: "sk-platform-anthropic"}
MODEL_NAME = "claude-scripted"


# --- the scripted runner ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Log:
    message: str


@dataclass(frozen=True, slots=True)
class Call:
    prompt: str
    max_tokens: int = 256


@dataclass(frozen=True, slots=True)
class WaitForCancel:
    """Blocks until the task's cancellation signal is set (then returns a partial result)."""


@dataclass(frozen=True, slots=True)
class Hang:
    """Ignores the cancellation signal (the engine must interrupt it)."""


@dataclass(frozen=True, slots=True)
class Fail:
    reason: FailureReason
    transient: bool = False


@dataclass(frozen=True, slots=True)
class Raise:
    error: BaseException


@dataclass(frozen=True, slots=True)
class Do:
    """Awaits ``action(execution)`` (e.g. cancel the task from the outside while it runs)."""

    action: Callable[[TaskExecution], Awaitable[object]]


Step = Log | Call | WaitForCancel | Hang | Fail | Raise | Do


@dataclass
class ScriptedTaskRunner:
    """Runs each attempt through a script: ``scripts`` per attempt number (the last one repeats)."""

    scripts: Sequence[Sequence[Step]] = ((Log("hello"), Call("Explain")),)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    executions: list[TaskExecution] = field(default_factory=list)

    async def run(self, execution: TaskExecution) -> TaskOutcome:
        self.executions.append(execution)
        self.started.set()
        script = self.scripts[min(execution.attempt, len(self.scripts)) - 1]
        answers: list[str] = []
        for step in script:
            if isinstance(step, Log):
                await execution.log.write(LogLevel.INFO, step.message, {"attempt": execution.attempt})
            elif isinstance(step, Call):
                request = ChatRequest(
                    model="", messages=(Message.user(step.prompt),), max_tokens=step.max_tokens
                )
                answers.append((await execution.models.complete(request)).text)
            elif isinstance(step, WaitForCancel):
                await execution.cancellation.wait()
                return TaskOutcome(result=TaskResult("stopped early", partial=True))
            elif isinstance(step, Hang):
                await asyncio.Event().wait()
            elif isinstance(step, Do):
                await step.action(execution)
            elif isinstance(step, Fail):
                return TaskOutcome(failure=step.reason, message="scripted failure", transient=step.transient)
            else:
                raise step.error
        return TaskOutcome(result=TaskResult("\n".join(answers) or "done"))


# --- the world --------------------------------------------------------------------------------------


class EngineWorld:
    """Users, a repository, a model with a price and plans, over ``new_uow``; builds submit/cancel/workers."""

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        ids: IdGenerator | None = None,
        turn_usage: Usage = Usage(1_000, 100),
    ) -> None:
        self.new_uow, self.clock = new_uow, clock
        self.ids = ids or Uuid7Generator()
        self.notifier = InMemoryTaskEventNotifier()
        self.chat = ScriptedChatModelFactory()
        self.turn_usage = turn_usage
        self.platform = ConfiguredPlatformKeys(PLATFORM_KEYS)
        self.box = AesGcmSecretBox([("k1", b"\x07" * 32)])
        self.policy = TaskPolicy(max_attempts=3)
        self.metrics = InMemoryMetrics()
        self.code_host: CodeHost = InMemoryCodeHost(now=T0)
        self.tokens: CodeHostTokens = _NoTokens()
        self.queue: TaskQueue = TASKS_TABLE_QUEUE  # the in-process engine's: the tasks table
        self.model: CatalogueModel = make_model(
            provider=Provider.ANTHROPIC,
            model_name=MODEL_NAME,
            tier=ModelTier.STANDARD,
            default_modes=frozenset(TaskMode),
        )

    def script_answers(self, count: int, text: str = "An answer.") -> None:
        self.chat.model(MODEL_NAME).add(
            *(ScriptedTurn(text=text, usage=self.turn_usage) for _ in range(count))
        )

    async def seed(self) -> None:
        await seed_catalogue(self.new_uow)
        async with self.new_uow() as uow:
            await uow.ai_catalogue.save_provider_config(make_config(Provider.ANTHROPIC))
            await uow.ai_catalogue.add_model(self.model)
            await uow.ai_catalogue.add_price(make_price(self.model.id, effective_from=T0.replace(year=2020)))
            await uow.commit()

    async def user_with_repository(
        self,
        *,
        credits: int = 10_000,
        permission: Permission = Permission.WRITE,
        repository: Repository | None = None,
    ) -> tuple[User, Repository]:
        user = make_user()
        repo = repository or make_repository(
            host="local", host_id=None, full_name=f"acme/r{new_id().hex[:12]}"
        )
        async with self.new_uow() as uow:
            await uow.users.add(user)
            if await uow.repositories.get(repo.id) is None:
                await uow.repositories.add(repo)
            await uow.repositories.save_access(RepositoryAccess(user.id, repo.id, permission, T0, T0))
            await uow.commit()
        if credits:
            await GrantCredits(self.new_uow(), self.clock, self.ids)(
                GrantCreditsInput(user.id, credits, f"seed:{user.id}")
            )
        return user, repo

    async def add_own_key(self, user: User, secret: str = "sk-own-anthropic") -> None:
        """The user's own (BYOK) key for the world's provider, sealed to its row."""
        key_id = new_id()
        sealed = self.box.encrypt(secret, context=api_key_context(key_id, user.id))
        async with self.new_uow() as uow:
            await uow.api_keys.add(make_api_key(user.id, id=key_id, sealed_key=sealed))
            await uow.commit()

    async def give_access(self, user: User, repo: Repository, permission: Permission) -> None:
        async with self.new_uow() as uow:
            await uow.repositories.save_access(RepositoryAccess(user.id, repo.id, permission, T0, T0))
            await uow.commit()

    def select(self, uow: UnitOfWork) -> SelectModelsForUser:
        return SelectModelsForUser(uow, SelectModels(uow, self.clock), self.platform)

    def submit_use_case(self) -> SubmitTask:
        uow = self.new_uow()
        return SubmitTask(
            uow,
            self.clock,
            self.ids,
            AllTiersEntitlements(),
            self.select(uow),
            self.notifier,
            self.policy,
            self.code_host,
            self.tokens,
            metrics=self.metrics,
            queue=self.queue,
        )

    async def submit(self, user: User, repo: Repository, **changes: Any) -> SubmittedTask:
        values: dict[str, Any] = {
            "actor": user.as_actor(),
            "repository_id": repo.id,
            "mode": TaskMode.ASK,
            "instructions": "Explain the build.",
            "budget_cap_credits": 1_000,
        }
        values.update(changes)
        return await self.submit_use_case()(SubmitTaskInput(**values))

    def settle_task(self, uow: UnitOfWork | None = None) -> SettleTask:
        uow = uow or self.new_uow()
        return SettleTask(uow, SettleHold(uow, self.clock, self.ids), ReleaseHold(uow, self.clock, self.ids))

    def cancel_use_case(self) -> CancelTask:
        uow = self.new_uow()
        return CancelTask(uow, self.clock, self.notifier, self.settle_task(uow), metrics=self.metrics)

    @contextlib.asynccontextmanager
    async def services(self) -> AsyncIterator[TaskServices]:
        uow = self.new_uow()
        settle = self.settle_task(uow)
        yield TaskServices(
            uow=uow,
            call_model=CallModelForUser(
                AllTiersEntitlements(),
                self.select(uow),
                ResolveCallCredentials(uow, self.clock, self.box, self.platform),
                CompleteWithFallback(self.chat, self.clock),
                RecordModelUsage(uow, self.clock, self.ids),
                metrics=self.metrics,
            ),
            settle=settle,
            settle_ended=SettleEndedTasks(uow, self.clock, settle),
            extend_hold=ExtendHold(uow, self.clock),
            expire_holds=ExpireHolds(uow, self.clock, self.ids),
            tokens=_NoTokens(),
        )

    def worker(self, runner: Any, worker_id: str = "w1", **config: Any) -> TaskWorker:
        values: dict[str, Any] = {
            "worker_id": worker_id,
            "heartbeat_interval": 0.05,
            "poll_interval": 0.05,
            "stop_grace": 0.2,
            "maintenance_interval": 0.2,
        }
        values.update(config)
        return TaskWorker(
            self.services, runner, self.notifier, self.clock, self.ids, EngineConfig(**values), self.metrics
        )


class _NoTokens:
    async def token_for(self, user_id: Any) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class FixedToken:
    """Every user's code-host token is ``token``."""

    token: str

    async def token_for(self, user_id: Any) -> str:
        return self.token


def sequential_ids() -> SequentialIdGenerator:
    return SequentialIdGenerator(start=7_000_000)


class InMemoryTaskEventNotifier(TaskEventNotifier):
    """Test-only in-process fan-out of "task X has events up to seq N" (one process only)."""

    def __init__(self) -> None:
        self._listeners: dict[UUID, set[asyncio.Queue[int]]] = defaultdict(set)

    async def notify(self, task_id: UUID, seq: int) -> None:
        for queue in list(self._listeners.get(task_id, ())):
            # Coalesced: a listener that has not read yet only needs the newest sequence.
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(seq)

    async def listen(self, task_id: UUID) -> AsyncIterator[int]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        self._listeners[task_id].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners[task_id].discard(queue)
