"""The composition root wires the sandbox, the toolbox, the workspace factory and the agent as task runner."""

from __future__ import annotations

from dishka import Scope

from asynccoder.adapters.agent_tools.toolbox import WorkspaceToolbox
from asynccoder.adapters.git.workspace import GitWorkspaceFactory
from asynccoder.adapters.sandbox.bubblewrap import BubblewrapSandbox
from asynccoder.application.agent.coding_agent import CodingAgent
from asynccoder.application.ports.agent import AgentToolbox, Sandbox, WorkspaceFactory
from asynccoder.application.ports.task_execution import TaskRunner
from asynccoder.ioc.agent import PerTaskCodingAgent
from asynccoder.ioc.core import make_container
from tests.support.app import make_settings


async def test_the_container_builds_the_agent_and_its_tools() -> None:
    container = make_container(make_settings())
    try:
        sandbox = await container.get(Sandbox)
        toolbox = await container.get(AgentToolbox)
        assert isinstance(sandbox, BubblewrapSandbox)
        assert isinstance(toolbox, WorkspaceToolbox)
        assert toolbox.shell_available == await sandbox.available()
        assert isinstance(await container.get(WorkspaceFactory), GitWorkspaceFactory)
        assert isinstance(await container.get(TaskRunner), PerTaskCodingAgent)
        async with container(scope=Scope.REQUEST) as request:
            assert isinstance(await request.get(CodingAgent), CodingAgent)
    finally:
        await container.close()
