"""Providers for the coding agent's tools: the sandbox, the toolbox and task workspaces.

The sandbox is probed once when the toolbox is first built: without bubblewrap (or with user namespaces
blocked) the toolbox never offers the shell, and tasks that need it fail ``sandbox_unavailable``. Workspaces
live under ``<data dir>/workspaces``, one private directory per task, removed when the task ends. Add
``AgentToolsProvider()`` to ``make_container`` next to ``GitHubProvider`` (which provides the git transport).
"""

from __future__ import annotations

from dishka import Provider, Scope, provide

from asynccoder.adapters.agent_tools.toolbox import WorkspaceToolbox
from asynccoder.adapters.git.workspace import GitWorkspaceFactory
from asynccoder.adapters.sandbox.bubblewrap import BubblewrapSandbox
from asynccoder.application.ports.agent import AgentToolbox, Sandbox, WorkspaceFactory
from asynccoder.application.ports.code_hosting import GitTransport
from asynccoder.ioc.settings import Settings


class AgentToolsProvider(Provider):
    @provide(scope=Scope.APP)
    def sandbox(self) -> Sandbox:
        return BubblewrapSandbox()

    @provide(scope=Scope.APP)
    async def toolbox(self, sandbox: Sandbox) -> AgentToolbox:
        return await WorkspaceToolbox.probing(sandbox)

    @provide(scope=Scope.APP)
    def workspaces(self, settings: Settings, transport: GitTransport) -> WorkspaceFactory:
        return GitWorkspaceFactory(transport, parent=settings.data_dir / "workspaces")
