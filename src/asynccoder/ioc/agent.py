"""The coding agent: its tools (sandbox, toolbox, task workspaces) and the agent as the engine's runner.

The sandbox is probed once when the toolbox is first built: without bubblewrap (or with user namespaces
blocked) the toolbox never offers the shell, and tasks that need it fail ``sandbox_unavailable``. Workspaces
live under ``<data dir>/workspaces``, one private directory per task, removed when the task ends.

``TaskRunner`` is the ``CodingAgent``, built per task in a REQUEST scope of its own (its unit of work and
collaborators are the task's).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from dishka import AsyncContainer, Provider, Scope, provide

from asynccoder.adapters.agent_tools.toolbox import WorkspaceToolbox
from asynccoder.adapters.git.workspace import GitWorkspaceFactory
from asynccoder.adapters.sandbox.bubblewrap import BubblewrapSandbox
from asynccoder.application.agent.coding_agent import CodingAgent
from asynccoder.application.ai.api_keys import StoredProviderKeys
from asynccoder.application.ports.agent import AgentToolbox, Sandbox, WorkspaceFactory
from asynccoder.application.ports.code_hosting import CodeHost, GitTransport
from asynccoder.application.ports.system import Clock, IdGenerator, SecretBox
from asynccoder.application.ports.task_execution import TaskExecution, TaskOutcome, TaskRunner
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.agent.secrets import scan_text
from asynccoder.ioc.settings import Settings


class AgentProvider(Provider):
    @provide(scope=Scope.APP)
    def sandbox(self) -> Sandbox:
        return BubblewrapSandbox()

    @provide(scope=Scope.APP)
    async def toolbox(self, sandbox: Sandbox) -> AgentToolbox:
        return await WorkspaceToolbox.probing(sandbox)

    @provide(scope=Scope.APP)
    def workspaces(self, settings: Settings, transport: GitTransport) -> WorkspaceFactory:
        return GitWorkspaceFactory(transport, parent=settings.data_dir / "workspaces")

    @provide(scope=Scope.APP)
    def runner(self, container: AsyncContainer) -> TaskRunner:
        return PerTaskCodingAgent(container)

    @provide(scope=Scope.REQUEST)
    def coding_agent(
        self,
        settings: Settings,
        workspaces: WorkspaceFactory,
        toolbox: AgentToolbox,
        code_host: CodeHost,
        uow: UnitOfWork,
        clock: Clock,
        ids: IdGenerator,
        box: SecretBox,
    ) -> CodingAgent:
        known = platform_secrets(settings)
        return CodingAgent(
            workspaces=workspaces,
            toolbox=toolbox,
            code_host=code_host,
            uow=uow,
            clock=clock,
            ids=ids,
            scan_secrets=lambda text, extra: [
                f.excerpt for f in scan_text(text, source="output", known_secrets=(*known, *extra))
            ],
            known_secrets=known,
            user_secrets=StoredProviderKeys(uow, box),
        )


class PerTaskCodingAgent(TaskRunner):
    """Runs each task on a ``CodingAgent`` of its own REQUEST scope (tasks run concurrently on one worker)."""

    def __init__(self, container: AsyncContainer) -> None:
        self._container = container

    async def run(self, execution: TaskExecution) -> TaskOutcome:
        async with self._container(scope=Scope.REQUEST) as request:
            agent = await request.get(CodingAgent)
            return await agent.run(execution)


def platform_secrets(settings: Settings) -> Sequence[str]:
    """Values that must never leave the platform in a commit, a comment or a review."""
    values = [
        settings.jwt_secret,
        settings.claude_api_key,
        settings.openai_api_key,
        settings.gemini_api_key,
        settings.stripe_secret_key,
        settings.stripe_webhook_secret,
        settings.github_client_secret,
        settings.github_webhook_secret,
        settings.clerk_secret_key,
    ]
    values += [base64.b64encode(key.material).decode() for key in settings.encryption_keys]
    return tuple(v for v in values if v and len(v) >= 8)
