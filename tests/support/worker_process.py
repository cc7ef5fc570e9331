"""A task worker process for crash tests: ``python -m tests.support.worker_process <database url>``.

It runs the real ``TaskWorker`` over the real container on that database, with a runner that makes one model
call (scripted model) and then hangs until cancelled, so a test can kill it mid-task with SIGKILL.
"""

from __future__ import annotations

import asyncio
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
from asynccoder.ioc.tasks import make_task_worker
from tests.support.app import make_settings
from tests.support.task_engine import Call, Log, ScriptedTaskRunner, WaitForCancel

MODEL = "claude-crash"


class CrashTestProvider(Provider):
    @provide(scope=Scope.APP)
    def runner(self) -> TaskRunner:
        return ScriptedTaskRunner(((Log("working"), Call("think"), WaitForCancel()),))

    @provide(scope=Scope.APP)
    def platform_keys(self) -> PlatformKeys:
        return ConfiguredPlatformKeys({AiProvider.ANTHROPIC: "sk-test-platform"})


async def main(database_url: str) -> None:
    settings = make_settings(database_url=database_url, worker_concurrency=4)
    chat = ScriptedChatModelFactory()
    chat.model(MODEL).add(*(ScriptedTurn(text="ok", usage=Usage(1_000, 100)) for _ in range(50)))
    container = make_container(settings, ScriptedAiProvider(chat), CrashTestProvider())
    try:
        worker = await make_task_worker(container, settings)
        await worker.run()
    finally:
        await container.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
