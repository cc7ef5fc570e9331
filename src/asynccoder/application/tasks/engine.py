"""The task engine: workers that claim queued tasks, run them through the ``TaskRunner`` port and settle them.

One ``TaskWorker`` runs up to ``concurrency`` tasks at once in one process; any number of worker processes
(on any number of machines) may share one database, because every step is a conditional write on the tasks
table (claim, heartbeat, finish, requeue). The embedded default on SQLite is the same worker inside the API
process (SQLite has one writer; claims are conditional updates, so it is correct there too).

Guarantees, and the windows they take (defaults of ``EngineConfig``):
- a running task is cancelled by ``CancelTask`` flipping its row; the worker notices on its next heartbeat
  (every ``heartbeat_interval`` = 1 s), signals the runner, and interrupts it if it has not returned after
  ``stop_grace`` = 2 s: a cancelled running task stops within about 3 s;
- a worker that dies (SIGKILL, lost machine) stops heartbeating; any worker's maintenance pass (every
  ``maintenance_interval`` = 5 s) hands its tasks back once the heartbeat is older than ``stale_after`` =
  30 s: queued again while attempts remain, else failed ``internal`` (charge waived). A lost task is thus
  requeued or failed within ``stale_after + maintenance_interval`` (35 s);
- every ended task is settled: by its worker right away, or by the maintenance sweep once it has been
  ended for ``settle_grace`` = 10 s; abandoned credit holds expire (``ExpireHolds``) in the same pass,
  which also turns pending ``repository_events`` into tasks (``triggers.ProcessRepositoryEvents``);
- transient failures (the runner's ``transient`` outcomes) are retried with exponential backoff
  (``retry_backoff``) until ``max_attempts``;
- graceful shutdown (``stop()``) signals every running task, waits up to ``shutdown_grace`` for runners to
  return and hands unfinished tasks back to the queue, giving their attempt back (a shutdown is not the
  task's failure, so it never uses up ``max_attempts``; a crash found by the stale sweep does count).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from asynccoder.application.ai.call_model import CallModelForUser, CallModelInput
from asynccoder.application.billing.credits import (
    ExpireHolds,
    ExpireHoldsInput,
    ExtendHold,
    ExtendHoldInput,
)
from asynccoder.application.ports.ai import ModelFilter
from asynccoder.application.ports.events import TaskEventNotifier, TaskEventType
from asynccoder.application.ports.metrics import NO_METRICS, Metrics
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.application.ports.task_execution import (
    BudgetExhausted,
    LogLevel,
    ModelCall,
    RepositoryCheckout,
    TaskBudget,
    TaskCancelled,
    TaskExecution,
    TaskLogSink,
    TaskModels,
    TaskOutcome,
    TaskRunner,
)
from asynccoder.application.ports.tasks import TaskUsage
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.tasks.events import TaskEvents
from asynccoder.application.tasks.settlement import SettleEndedTasks, SettleTask
from asynccoder.domain.ai import ChatRequest, ChatResponse, ProviderError, Usage
from asynccoder.domain.ai_catalogue import price_usage
from asynccoder.domain.errors import Conflict, DomainError
from asynccoder.domain.tasks import WRAP_UP_FRACTION, FailureReason, Task, TaskStatus, retry_backoff

log = logging.getLogger("asynccoder.tasks.engine")

DEFAULT_CONTEXT_WINDOW = 200_000
DEFAULT_MAX_OUTPUT_TOKENS = 8_192
MAX_LOG_MESSAGE = 4_000


class CodeHostTokens(Protocol):
    """The user's code-host token ("" when the host needs none)."""

    async def token_for(self, user_id: UUID) -> str: ...


class RepositoryEventConsumer(Protocol):
    """Turns pending code-host events into tasks (``ProcessRepositoryEvents``)."""

    async def __call__(self) -> Any: ...


class MaintenanceJob(Protocol):
    """A clean-up run on every maintenance pass (e.g. ``PruneGitHubDeliveries``); cheap when idle."""

    async def __call__(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class TaskServices:
    """What one short step of the engine needs; each scope has its own unit of work."""

    uow: UnitOfWork
    call_model: CallModelForUser
    settle: SettleTask
    settle_ended: SettleEndedTasks
    extend_hold: ExtendHold
    expire_holds: ExpireHolds
    tokens: CodeHostTokens
    triggers: RepositoryEventConsumer | None = None
    housekeeping: tuple[MaintenanceJob, ...] = ()


ServicesScope = Callable[[], AbstractAsyncContextManager[TaskServices]]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    worker_id: str
    concurrency: int = 2
    poll_interval: float = 0.5  # seconds between claims when the queue looked empty
    heartbeat_interval: float = 1.0
    stale_after: timedelta = timedelta(seconds=30)
    maintenance_interval: float = 5.0
    settle_grace: timedelta = timedelta(seconds=10)
    wall_clock_limit: timedelta = timedelta(minutes=30)
    stop_grace: float = 2.0
    shutdown_grace: float = 10.0
    hold_ttl: timedelta = timedelta(hours=2)


class _Signal:
    """The task's ``CancellationSignal``; ``reason``: ``cancelled``, ``timeout``, ``shutdown`` or ``lost``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.reason: str | None = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()

    def set(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()


class _Budget(TaskBudget):
    def __init__(self, cap: int, spent_before: int) -> None:
        self._cap, self._spent = cap, spent_before
        self._calls: list[ModelCall] = []

    @property
    def cap_credits(self) -> int:
        return self._cap

    @property
    def spent_credits(self) -> int:
        return self._spent

    @property
    def should_wrap_up(self) -> bool:
        return self._spent >= self._cap * WRAP_UP_FRACTION

    def calls(self) -> tuple[ModelCall, ...]:
        return tuple(self._calls)

    def record(self, call: ModelCall) -> None:
        self._calls.append(call)
        self._spent += call.charged_credits


def _estimated_input_tokens(request: ChatRequest) -> int:
    # A deliberately generous bound (about 3 characters per token) over everything sent.
    size = len(repr(request.messages)) + len(request.system or "") + len(repr(request.tools))
    return size // 3 + 1


async def call_upper_bound(uow: UnitOfWork, at: datetime, request: ChatRequest, model_id: UUID | None) -> int:
    """The most one call may cost: the request's size and ``max_tokens`` at the dearest price in force among
    the enabled models (or the explicit model's price)."""
    async with uow:
        if model_id is not None:
            ids = [model_id]
        else:
            ids = [m.id for m in await uow.ai_catalogue.list_models(ModelFilter(enabled_only=True))]
        prices = list((await uow.ai_catalogue.prices_at(ids, at)).values()) if ids else []
    usage = Usage(input_tokens=_estimated_input_tokens(request), output_tokens=request.max_tokens)
    return max((price_usage(usage, p) for p in prices), default=0)


class _Log(TaskLogSink):
    def __init__(self, worker: TaskWorker, task_id: UUID) -> None:
        self._worker, self._task_id = worker, task_id
        self._lock = asyncio.Lock()

    async def write(self, level: LogLevel, message: str, data: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"level": level.value, "message": message[:MAX_LOG_MESSAGE]}
        if data:
            payload["data"] = data
        async with self._lock:
            await self._worker.append_event(self._task_id, TaskEventType.LOG, payload)


class _NoCredentials:
    def __init__(self, worker: TaskWorker, user_id: UUID) -> None:
        self._worker, self._user_id = worker, user_id

    async def token(self) -> str | None:
        async with self._worker.scope() as services:
            return (await services.tokens.token_for(self._user_id)) or None


class _Models(TaskModels):
    def __init__(
        self,
        worker: TaskWorker,
        task: Task,
        budget: _Budget,
        signal: _Signal,
        context_window: int,
        max_output_tokens: int,
    ) -> None:
        self._worker, self._task, self._budget, self._signal = worker, task, budget, signal
        self._context_window, self._max_output = context_window, max_output_tokens
        self._lock = asyncio.Lock()

    @property
    def context_window(self) -> int:
        return self._context_window

    @property
    def max_output_tokens(self) -> int:
        return self._max_output

    async def complete(self, request: ChatRequest) -> ChatResponse:
        async with self._lock:  # one call at a time per task: the budget check must see every spend
            if self._signal.cancelled:
                raise TaskCancelled()
            worker, task = self._worker, self._task
            async with worker.scope() as services:
                bound = await call_upper_bound(services.uow, worker.clock.now(), request, task.model_id)
            if self._budget.spent_credits + bound > self._budget.cap_credits:
                raise BudgetExhausted(
                    f"The next call may cost up to {bound} credits; "
                    f"{self._budget.cap_credits - self._budget.spent_credits} are left."
                )
            if task.hold_id is not None:
                async with worker.scope() as services:
                    try:
                        await services.extend_hold(
                            ExtendHoldInput(task.user_id, task.hold_id, worker.config.hold_ttl)
                        )
                    except Conflict:
                        raise BudgetExhausted("The task's credit hold is no longer active.") from None
            call = asyncio.ensure_future(self._call(request))
            stop = asyncio.ensure_future(self._signal.wait())
            try:
                await asyncio.wait({call, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            if not call.done():
                call.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await call
                raise TaskCancelled()
            return call.result()

    async def _call(self, request: ChatRequest) -> ChatResponse:
        worker, task = self._worker, self._task
        async with worker.scope() as services:
            out = await services.call_model(
                CallModelInput(task.user_id, task.mode, request, task.model_id, own_keys_only=task.byok_only)
            )
            now = worker.clock.now()
            async with services.uow as uow:
                price = (await uow.ai_catalogue.prices_at([out.model_id], now)).get(out.model_id)
            usage = out.response.usage
            row = TaskUsage(
                id=worker.ids.new_id(),
                task_id=task.id,
                user_id=task.user_id,
                attempt=task.attempt,
                model_id=out.model_id,
                answered_model=out.response.model,
                key_source=out.key_source,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cost_credits=out.cost_credits,
                charged_credits=out.charged_credits,
                price_id=price.id if price else None,
                created_at=now,
            )
            events = TaskEvents(worker.notifier, worker.clock, worker.metrics)
            async with services.uow as uow:
                await uow.task_usage.add(row)
                await events.append(
                    uow,
                    task.id,
                    TaskEventType.USAGE,
                    {
                        "model": row.answered_model,
                        "key_source": row.key_source.value,
                        "input_tokens": row.input_tokens,
                        "output_tokens": row.output_tokens,
                        "cache_read_tokens": row.cache_read_tokens,
                        "cache_write_tokens": row.cache_write_tokens,
                        "charged_credits": row.charged_credits,
                        "spent_credits": self._budget.spent_credits + row.charged_credits,
                    },
                )
                await uow.commit()
            await events.flush()
        worker.metrics.agent_step(task.mode.value)  # the agent takes one step per model turn
        self._budget.record(
            ModelCall(
                row.model_id,
                row.answered_model,
                row.key_source,
                row.input_tokens,
                row.output_tokens,
                row.cache_read_tokens,
                row.cache_write_tokens,
                row.cost_credits,
                row.charged_credits,
                row.price_id,
            )
        )
        return out.response


async def _set_within(event: asyncio.Event, seconds: float) -> bool:
    """Whether ``event`` is set within ``seconds``."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


@dataclass(frozen=True, slots=True)
class _Ending:
    """How an attempt ended, before it is written."""

    status: TaskStatus | None  # a terminal status, or None to hand the task back
    failure: FailureReason | None = None
    message: str | None = None
    outcome: TaskOutcome | None = None
    retry_at: datetime | None = None
    hand_back: bool = False  # the worker shut down: the attempt is given back, not spent


class TaskWorker:
    """Claims and runs tasks; see the module docstring for its guarantees."""

    def __init__(
        self,
        scope: ServicesScope,
        runner: TaskRunner,
        notifier: TaskEventNotifier,
        clock: Clock,
        ids: IdGenerator,
        config: EngineConfig,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.scope, self.runner, self.notifier = scope, runner, notifier
        self.clock, self.ids, self.config, self.metrics = clock, ids, config, metrics
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._signals: dict[UUID, _Signal] = {}

    # --- the loop -----------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look at the queue now (e.g. right after a submit in the same process)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def hand_back_running(self) -> None:
        """Signal every running attempt to stop and hand its task back (a shutdown; see ``run``)."""
        for signal in list(self._signals.values()):
            signal.set("shutdown")

    async def run(self) -> None:
        """Claim and run tasks until ``stop()``; then hand back what is still running."""
        loop = asyncio.get_running_loop()
        active: set[asyncio.Task[datetime | None]] = set()
        next_maintenance = 0.0
        try:
            while not self._stopping.is_set():
                if loop.time() >= next_maintenance:
                    await self._guarded(self.maintain())
                    next_maintenance = loop.time() + self.config.maintenance_interval
                while len(active) < self.config.concurrency and not self._stopping.is_set():
                    task = await self._guarded(self.claim())
                    if task is None:
                        break
                    job = asyncio.ensure_future(self.execute(task))
                    active.add(job)
                    job.add_done_callback(active.discard)
                    job.add_done_callback(lambda _: self._wake.set())
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_interval)
        finally:
            self.hand_back_running()
            if active:
                _, pending = await asyncio.wait(active, timeout=self.config.shutdown_grace)
                for job in pending:
                    job.cancel()
                if pending:
                    await asyncio.wait(pending)

    async def _guarded(self, step: Any) -> Any:
        try:
            return await step
        except Exception:  # the loop outlives a database hiccup; the next pass tries again
            log.exception("task engine step failed")
            return None

    async def run_one(self) -> Task | None:
        """Claim one task and run it to the end (tests and one-shot tools)."""
        task = await self.claim()
        if task is not None:
            await self.execute(task)
        return task

    # --- steps ----------------------------------------------------------------------------------------

    async def append_event(self, task_id: UUID, type: TaskEventType, data: dict[str, Any]) -> None:
        events = TaskEvents(self.notifier, self.clock, self.metrics)
        async with self.scope() as services, services.uow as uow:
            await events.append(uow, task_id, type, data)
            await uow.commit()
        await events.flush()

    async def claim(self) -> Task | None:
        events = TaskEvents(self.notifier, self.clock, self.metrics)
        async with self.scope() as services, services.uow as uow:
            task = await uow.tasks.claim_next(self.config.worker_id, self.clock.now())
            if task is not None:
                await events.status(uow, task.id)
            await uow.commit()
        await events.flush()
        return task

    async def maintain(self) -> None:
        """Hand back stale tasks, settle ended tasks nobody settled, expire abandoned holds, turn pending
        code-host events (``repository_events``) into tasks, and run the housekeeping jobs."""
        await self.recover_stale()
        now = self.clock.now()
        async with self.scope() as services:
            await services.settle_ended(now - self.config.settle_grace)
        async with self.scope() as services:
            await services.expire_holds(ExpireHoldsInput())
        async with self.scope() as services:
            if services.triggers is not None:
                await services.triggers()
        async with self.scope() as services:
            for job in services.housekeeping:
                await job()

    async def recover_stale(self) -> int:
        now = self.clock.now()
        async with self.scope() as services, services.uow as uow:
            stale = await uow.tasks.find_stale(now - self.config.stale_after, 100)
        recovered = 0
        for task in stale:
            events = TaskEvents(self.notifier, self.clock, self.metrics)
            async with self.scope() as services, services.uow as uow:
                message = "The worker running this task stopped responding."
                if task.can_retry():
                    # Conditional on the stale worker too: a crash spends the attempt (it may be the
                    # task's own fault), and only that run, not a later claim, can be taken over.
                    won = await uow.tasks.requeue(
                        task.id, task.worker_id, task.attempt, now, now, failure_message=message
                    )
                else:
                    won = await uow.tasks.finish(
                        task.id,
                        task.worker_id or "",
                        task.attempt,
                        TaskStatus.FAILED,
                        now,
                        failure_reason=FailureReason.INTERNAL,
                        failure_message=message,
                    )
                if won:
                    await events.status(uow, task.id)
                await uow.commit()
            await events.flush()
            if won:
                recovered += 1
                if not task.can_retry():
                    async with self.scope() as services:
                        await services.settle(task.id)
        return recovered

    async def execute(self, task: Task) -> datetime | None:
        """Run one claimed attempt to its end and write the outcome (never raises). Returns when the task is
        due again if this attempt handed it back to the queue (a transient failure's backoff, or now after a
        shutdown), else ``None``."""
        signal = _Signal()
        self._signals[task.id] = signal
        try:
            ending = await self._attempt(task, signal)
            return await self._conclude(task, ending)
        except Exception:
            log.exception("task %s: the engine failed to conclude an attempt", task.id)
            return None
        finally:
            self._signals.pop(task.id, None)

    async def claim_task(self, task_id: UUID) -> Task | None:
        """Claim this task if it is runnable now (a queue engine that hands out tasks by id)."""
        events = TaskEvents(self.notifier, self.clock, self.metrics)
        async with self.scope() as services, services.uow as uow:
            task = await uow.tasks.claim(task_id, self.config.worker_id, self.clock.now())
            if task is not None:
                await events.status(uow, task.id)
            await uow.commit()
        await events.flush()
        return task

    async def run_task(self, task_id: UUID) -> datetime | None:
        """Run one attempt of this task if it is runnable, with every rule of ``execute``. Returns when to
        look at the task again (``None``: nothing left to do): its retry time after a transient failure,
        when its backoff or its repository's writing lock should be over if it could not be claimed yet, or
        when a worker that holds it would be found stale."""
        task = await self.claim_task(task_id)
        if task is not None:
            return await self.execute(task)
        async with self.scope() as services, services.uow as uow:
            current = await uow.tasks.get(task_id)
        now = self.clock.now()
        if current is None or current.status.is_terminal:
            return None
        if current.status is TaskStatus.QUEUED:
            return max(current.not_before or now, now + timedelta(seconds=self.config.poll_interval))
        heartbeat = current.heartbeat_at or now
        return max(heartbeat + self.config.stale_after, now) + timedelta(
            seconds=self.config.maintenance_interval
        )

    async def _attempt(self, task: Task, signal: _Signal) -> _Ending:
        deadline = self.clock.now() + self.config.wall_clock_limit
        async with self.scope() as services, services.uow as uow:
            repository = await uow.repositories.get(task.repository_id)
            spent_before = await uow.task_usage.charged_total(task.id)
            model_id = task.model_id or (repository.default_model_id if repository else None)
            model = await uow.ai_catalogue.get_model(model_id) if model_id else None
        if repository is None:
            return _Ending(TaskStatus.FAILED, FailureReason.REPOSITORY_UNAVAILABLE, "The repository is gone.")
        budget = _Budget(task.budget_cap_credits, spent_before)
        execution = TaskExecution(
            task_id=task.id,
            user_id=task.user_id,
            mode=task.mode,
            instructions=task.instructions,
            attempt=task.attempt,
            repository=RepositoryCheckout(
                repository_id=repository.id,
                full_name=repository.full_name,
                clone_url=repository.clone_url,
                base_branch=task.base_branch or repository.base_branch,
                pull_request_number=task.pull_request_number,
                test_command=repository.test_command,
            ),
            models=_Models(
                self,
                task,
                budget,
                signal,
                model.context_window if model else DEFAULT_CONTEXT_WINDOW,
                model.max_output_tokens if model else DEFAULT_MAX_OUTPUT_TOKENS,
            ),
            budget=budget,
            log=_Log(self, task.id),
            cancellation=signal,
            deadline=deadline,
            git_credentials=_NoCredentials(self, task.user_id),
        )
        run = asyncio.ensure_future(self.runner.run(execution))
        done = asyncio.Event()
        watch = asyncio.ensure_future(self._watch(task, signal, deadline, run, done))
        try:
            outcome = await run
        except asyncio.CancelledError:
            if watch.done() or signal.cancelled:  # interrupted by the watchdog after the grace period
                return self._signalled(task, signal)
            raise
        except TaskCancelled:
            return self._signalled(task, signal)
        except BudgetExhausted as exc:
            return _Ending(TaskStatus.FAILED, FailureReason.BUDGET_EXHAUSTED, str(exc))
        except ProviderError as exc:
            return _Ending(TaskStatus.FAILED, FailureReason.PROVIDER_ERROR, exc.message)
        except DomainError as exc:
            return _Ending(TaskStatus.FAILED, FailureReason.INVALID_REQUEST, exc.message)
        except Exception:
            log.exception("task %s: the runner raised", task.id)
            return _Ending(TaskStatus.FAILED, FailureReason.INTERNAL, "The task failed unexpectedly.")
        finally:
            # Let a heartbeat in flight finish: cancelling it mid-commit would break its pooled connection
            # (and the attempt's conclusion, next, needs a connection).
            done.set()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        finished = outcome.result is not None and not outcome.result.partial
        if signal.cancelled and not (signal.reason == "shutdown" and finished):
            return self._signalled(task, signal, outcome)
        return self._from_outcome(task, outcome)  # work that ended as the worker shut down is kept

    def _signalled(self, task: Task, signal: _Signal, outcome: TaskOutcome | None = None) -> _Ending:
        if signal.reason == "timeout":
            return _Ending(
                TaskStatus.FAILED, FailureReason.TIMEOUT, "The task ran out of time.", outcome=outcome
            )
        if signal.reason == "shutdown":
            return _Ending(None, message="The worker shut down; the task was handed back.", hand_back=True)
        return _Ending(TaskStatus.CANCELLED)  # cancelled by the user, or taken over ("lost"): no write wins

    def _from_outcome(self, task: Task, outcome: TaskOutcome) -> _Ending:
        if outcome.failure is None:
            if outcome.result is None:
                return _Ending(TaskStatus.FAILED, FailureReason.INTERNAL, "The runner returned no result.")
            return _Ending(TaskStatus.SUCCEEDED, outcome=outcome)
        if outcome.transient and task.can_retry():
            delay = retry_backoff(task.attempt)
            return _Ending(
                None, outcome.failure, outcome.message, outcome=outcome, retry_at=self.clock.now() + delay
            )
        return _Ending(TaskStatus.FAILED, outcome.failure, outcome.message, outcome=outcome)

    async def _watch(
        self, task: Task, signal: _Signal, deadline: datetime, run: asyncio.Future[Any], done: asyncio.Event
    ) -> None:
        """Heartbeats until ``done``; turns a cancel, the deadline or a takeover into the signal; interrupts a
        runner that ignores the signal for longer than ``stop_grace``."""
        while not signal.cancelled:
            if await _set_within(done, self.config.heartbeat_interval):
                return
            now = self.clock.now()
            try:
                async with self.scope() as services, services.uow as uow:
                    alive = await uow.tasks.heartbeat(task.id, self.config.worker_id, task.attempt, now)
                    current = None if alive else await uow.tasks.get(task.id)
                    await uow.commit()
            except Exception:
                log.exception("task %s: heartbeat failed", task.id)
                continue
            if not alive:
                cancelled = current is not None and current.status is TaskStatus.CANCELLED
                signal.set("cancelled" if cancelled else "lost")
            elif now >= deadline:
                signal.set("timeout")
        if not await _set_within(done, self.config.stop_grace):
            run.cancel()

    async def _conclude(self, task: Task, ending: _Ending) -> datetime | None:
        now = self.clock.now()
        events = TaskEvents(self.notifier, self.clock, self.metrics)
        result = ending.outcome.result if ending.outcome else None
        settle = False
        if ending.status is None and not ending.hand_back and not task.can_retry():  # no attempt left
            ending = _Ending(
                TaskStatus.FAILED,
                ending.failure or FailureReason.INTERNAL,
                ending.message,
                outcome=ending.outcome,
            )
        async with self.scope() as services, services.uow as uow:
            if ending.status is None:
                won = await uow.tasks.requeue(
                    task.id,
                    self.config.worker_id,
                    task.attempt,
                    now,
                    ending.retry_at,
                    failure_reason=ending.failure,
                    failure_message=ending.message,
                    give_back_attempt=ending.hand_back,
                )
            elif ending.status is TaskStatus.CANCELLED:
                won, settle = False, True
            else:
                won = await uow.tasks.finish(
                    task.id,
                    self.config.worker_id,
                    task.attempt,
                    ending.status,
                    now,
                    failure_reason=ending.failure,
                    failure_message=ending.message,
                    result=result,
                )
                settle = True
            if won:
                if result is not None and ending.status is TaskStatus.SUCCEEDED:
                    await events.append(
                        uow, task.id, TaskEventType.RESULT, {"summary_markdown": result.summary_markdown}
                    )
                await events.status(uow, task.id)
            await uow.commit()
        await events.flush()
        if settle:
            async with self.scope() as services:
                await services.settle(task.id)
        if won and ending.status is None:
            return ending.retry_at or now
        return None
