"""A task worker process: ``python -m tests.support.worker_process <database url> [finish] [<redis url>]``.

It runs the real ``TaskWorker`` over the real container on that database, with a scripted model and a
scripted runner: by default (crash tests) one model call, then it hangs until cancelled, so a test can kill
it mid-task with SIGKILL; with ``finish`` it logs, makes one model call, logs again and succeeds. With a
Redis URL it notifies live task events through Redis, as a worker beside several API processes does. The
engine is ``ASYNCCODER_TASK_QUEUE``'s (``inprocess`` by default, or ``procrastinate``).
"""

from __future__ import annotations

import asyncio
import os
import sys

from dishka import Provider, Scope, provide

from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory, ScriptedTurn
from asynccoder.adapters.system.platform_access import ConfiguredPlatformKeys
from asynccoder.application.ports.ai import PlatformKeys
from asynccoder.application.ports.task_execution import TaskRunner
from asynccoder.domain.ai import Provider as AiProvider
from asynccoder.domain.ai import Usage
from asynccoder.ioc.ai import ScriptedAiProvider
from asynccoder.ioc.core import make_container
from asynccoder.ioc.tasks import make_worker_loop
from tests.support.app import make_settings
from tests.support.task_engine import Call, Log, ScriptedTaskRunner, Step, WaitForCancel

MODEL = "claude-crash"
ANSWER = "The build runs make."
CRASH_SCRIPT: tuple[Step, ...] = (Log("working"), Call("think"), WaitForCancel())
FINISH_SCRIPT: tuple[Step, ...] = (Log("reading the repository"), Call("think"), Log("writing the answer"))


class WorkerTestProvider(Provider):
    def __init__(self, script: tuple[Step, ...]) -> None:
        super().__init__()
        self._script = script

    @provide(scope=Scope.APP)
    def runner(self) -> TaskRunner:
        return ScriptedTaskRunner((self._script,))

    @provide(scope=Scope.APP)
    def platform_keys(self) -> PlatformKeys:
        return ConfiguredPlatformKeys({AiProvider.ANTHROPIC: "sk-test-platform"})


async def main(database_url: str, finish: bool, redis_url: str | None) -> None:
    settings = make_settings(
        database_url=database_url,
        worker_concurrency=4,
        redis_url=redis_url,
        task_queue=os.environ.get("ASYNCCODER_TASK_QUEUE", "inprocess"),
    )
    # Every model answers (the catalogue may pick any seeded one); MODEL is the crash tests' own.
    chat = ScriptedChatModelFactory(default=ScriptedTurn(text=ANSWER, usage=Usage(1_000, 100)))
    chat.model(MODEL).add(*(ScriptedTurn(text="ok", usage=Usage(1_000, 100)) for _ in range(50)))
    script = FINISH_SCRIPT if finish else CRASH_SCRIPT
    container = make_container(settings, ScriptedAiProvider(chat), WorkerTestProvider(script))
    try:
        worker = await make_worker_loop(container, settings)
        await worker.run()
    finally:
        await container.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], len(args) > 1 and args[1] == "finish", args[2] if len(args) > 2 else None))
