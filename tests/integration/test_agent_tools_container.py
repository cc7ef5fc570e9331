"""The agent tools provider wires the sandbox, the toolbox and the workspace factory."""

from __future__ import annotations

from dishka import Provider, Scope, from_context, make_async_container, provide

from asynccoder.adapters.agent_tools.toolbox import WorkspaceToolbox
from asynccoder.adapters.git.cli_transport import GitCliTransport
from asynccoder.adapters.git.workspace import GitWorkspaceFactory
from asynccoder.adapters.sandbox.bubblewrap import BubblewrapSandbox
from asynccoder.application.ports.agent import AgentToolbox, Sandbox, WorkspaceFactory
from asynccoder.application.ports.code_hosting import GitTransport
from asynccoder.ioc.agent_tools import AgentToolsProvider
from asynccoder.ioc.settings import Settings
from tests.support.app import make_settings


class Base(Provider):
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide(scope=Scope.APP)
    def transport(self) -> GitTransport:
        return GitCliTransport(allowed_hosts=frozenset({"github.com"}))


async def test_the_provider_builds_the_agent_tools() -> None:
    settings = make_settings()
    container = make_async_container(Base(), AgentToolsProvider(), context={Settings: settings})
    try:
        sandbox = await container.get(Sandbox)
        toolbox = await container.get(AgentToolbox)
        assert isinstance(sandbox, BubblewrapSandbox)
        assert isinstance(toolbox, WorkspaceToolbox)
        assert toolbox.shell_available == await sandbox.available()
        assert isinstance(await container.get(WorkspaceFactory), GitWorkspaceFactory)
    finally:
        await container.close()
