"""Each mode end to end: a scripted model drives real tool calls on a real git repository; pull requests and
reviews go through PyGithub to the local GitHub API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from asynccoder.adapters.agent_tools.toolbox import WorkspaceToolbox
from asynccoder.adapters.ai.scripted import ScriptedChatModel
from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.github.pygithub_code_host import PyGithubCodeHost
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.agent.coding_agent import CodingAgent, SecretScan
from asynccoder.application.ai.api_keys import StoredProviderKeys
from asynccoder.application.ports.agent import AgentToolbox, CommandResult, UserSecrets, Workspace
from asynccoder.domain.ai import Provider, TextBlock, ToolResult
from asynccoder.domain.ai_catalogue import api_key_context
from asynccoder.domain.tasks import FailureReason, TaskMode
from tests.support.agent_runtime import (
    NOW,
    USER_ID,
    FixedPriceBudget,
    FixedPriceModels,
    LocalWorkspaces,
    RecordingLog,
    ScriptedSandbox,
    SimpleToolbox,
    call,
    exact_secrets,
    make_execution,
    make_remote,
    no_secrets,
    scripted,
)
from tests.support.ai_catalogue_builders import make_api_key
from tests.support.git_repos import git
from tests.support.github_api_server import FakeGitHub, github_api_server
from tests.support.system import ManualClock, SequentialIdGenerator

TOKEN = "ghp-test-token"
REPO = "octo/app"
APP = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with github_api_server() as state:
        state.tokens[TOKEN] = "octo-bot"
        state.add_repo(REPO, id=42, access={TOKEN: "push"})
        yield state


@dataclass
class World:
    remote: Path
    workspaces: LocalWorkspaces
    github: FakeGitHub
    uow: InMemoryUnitOfWork
    clock: ManualClock = field(default_factory=lambda: ManualClock(NOW))
    ids: SequentialIdGenerator = field(default_factory=SequentialIdGenerator)

    def agent(
        self,
        scan: SecretScan = no_secrets,
        toolbox: AgentToolbox | None = None,
        user_secrets: UserSecrets | None = None,
    ) -> CodingAgent:
        return CodingAgent(
            workspaces=self.workspaces,
            toolbox=toolbox or SimpleToolbox(),
            code_host=PyGithubCodeHost(self.github.base),
            uow=self.uow,
            clock=self.clock,
            ids=self.ids,
            scan_secrets=scan,
            user_secrets=user_secrets,
        )


@pytest.fixture
def world(tmp_path: Path, github: FakeGitHub) -> World:
    remote = make_remote(
        tmp_path / "origin",
        {"app.py": APP, "README.md": "# App\n\nAdds numbers.\n", "docs/guide.md": "# Guide\n"},
    )
    scratch = tmp_path / "work"
    scratch.mkdir()
    return World(remote, LocalWorkspaces(remote, scratch), github, InMemoryUnitOfWork(InMemoryStore()))


def models(chat: ScriptedChatModel) -> FixedPriceModels:
    return FixedPriceModels(chat, FixedPriceBudget(cap_credits=1_000))


def remote_file(remote: Path, ref: str, path: str) -> str:
    return git("show", f"{ref}:{path}", cwd=remote)


FIX = {
    "command": "str_replace",
    "path": "app.py",
    "old_str": "    return a - b\n\n\ndef sub",
    "new_str": "    return a + b\n\n\ndef sub",
}


async def test_debug_commits_the_fix_on_the_task_branch_and_opens_a_recorded_pull_request(
    world: World,
) -> None:
    chat = scripted(
        call("view", {"path": "app.py"}),
        call("edit", FIX),
        call("submit", {"title": "Fix add", "summary": "add subtracted."}),
        call("submit", {"title": "Fix add()", "summary": "`add` subtracted; now it adds."}),
    )
    execution = make_execution(TaskMode.DEBUG, models(chat), instructions="add(2, 2) returns 0")

    outcome = await world.agent().run(execution)

    assert outcome.failure is None
    assert outcome.result is not None
    branch = f"asynccoder/{execution.task_id}"
    assert outcome.result.branch == branch
    assert "return a + b" in remote_file(world.remote, branch, "app.py")
    assert f"Async Coder task {execution.task_id}" in git(
        "log", "-1", "--format=%B", branch, cwd=world.remote
    )
    assert outcome.result.pull_request_number == 1
    assert outcome.result.changed_files == ("app.py",)
    assert outcome.result.diff_stats.additions == 1
    assert outcome.result.diff_stats.deletions == 1
    (pr,) = world.github.pulls.values()
    assert (pr["head"], pr["base"], pr["title"]) == (branch, "main", "Fix add()")
    async with world.uow as uow:
        stored = await uow.pull_requests.get_by_number(execution.repository.repository_id, 1)
    assert stored is not None
    assert stored.opened_by_platform
    assert stored.head_ref == branch
    # The first submit came back with the model's own diff to review.
    review_turn = chat.requests[3].messages[-1].content
    (result,) = [b for b in review_turn if isinstance(b, ToolResult)]
    assert "git diff" in result.content
    assert "+    return a + b" in result.content


async def test_debug_runs_the_repositorys_test_command_in_the_sandbox_and_reports_it_in_the_pr(
    world: World,
) -> None:
    sandbox = ScriptedSandbox(
        [
            CommandResult(1, "FAILED test_app.py::test_add - assert -1 == 3\n"),
            CommandResult(0, "3 passed in 0.01s\n"),
        ]
    )
    submit = call("submit", {"title": "Fix add", "summary": "`add` subtracted."})
    chat = scripted(
        call("run_tests", {}, call_id="t1"),
        call("edit", FIX, call_id="e1"),
        call("run_tests", {}, call_id="t2"),
        submit,  # answered with the diff to review
        submit,
    )
    log = RecordingLog()
    execution = make_execution(TaskMode.DEBUG, models(chat), log=log, test_command="pytest -q")

    outcome = await world.agent(toolbox=await WorkspaceToolbox.probing(sandbox)).run(execution)

    assert outcome.failure is None
    assert [(command, timeout) for command, _, timeout in sandbox.ran] == [("pytest -q", 600)] * 2
    assert "run_tests" in [t.name for t in chat.requests[0].tools]
    prompt = chat.requests[0].messages[0].content[0]
    assert isinstance(prompt, TextBlock)
    assert "`run_tests`" in prompt.text
    assert "`pytest -q`" in prompt.text
    first_run = next(b for b in chat.requests[1].messages[-1].content if isinstance(b, ToolResult))
    assert first_run.is_error
    assert "exit code 1" in first_run.content
    (pr,) = world.github.pulls.values()
    assert "### Tests\n`pytest -q` passed (last of 2 runs in the sandbox)" in pr["body"]
    assert "3 passed in 0.01s" in pr["body"]
    assert ("tests: passed", {"command": "pytest -q", "runs": 2, "passed": True}) in [
        (message, data) for _, message, data in log.lines
    ]


async def test_debug_submitting_untested_work_is_asked_once_to_run_the_tests(world: World) -> None:
    sandbox = ScriptedSandbox([CommandResult(0, "ok\n")])
    submit = call("submit", {"title": "Fix add", "summary": "`add` subtracted."})
    chat = scripted(
        call("edit", FIX, call_id="e1"), submit, call("run_tests", {}, call_id="t1"), submit, submit
    )
    execution = make_execution(TaskMode.DEBUG, models(chat), test_command="make test")

    outcome = await world.agent(toolbox=await WorkspaceToolbox.probing(sandbox)).run(execution)

    assert outcome.failure is None
    reminder = next(b for b in chat.requests[2].messages[-1].content if isinstance(b, ToolResult))
    assert "call `run_tests`" in reminder.content
    assert [command for command, _, _ in sandbox.ran] == ["make test"]
    (pr,) = world.github.pulls.values()
    assert "`make test` passed (last of 1 run in the sandbox)" in pr["body"]


async def test_without_a_test_command_debug_gets_no_run_tests_tool(world: World) -> None:
    chat = scripted(call("submit", {"title": "Nothing", "summary": "No change needed."}))

    await world.agent(toolbox=await WorkspaceToolbox.probing(ScriptedSandbox([]))).run(
        make_execution(TaskMode.DEBUG, models(chat))
    )

    assert "run_tests" not in [t.name for t in chat.requests[0].tools]


async def test_debug_reuses_the_open_pull_request_of_its_branch(world: World) -> None:
    execution = make_execution(TaskMode.DEBUG, models(scripted()))
    branch = f"asynccoder/{execution.task_id}"
    world.github.pulls[(REPO, 7)] = {
        "id": 7,
        "number": 7,
        "state": "open",
        "title": "Earlier attempt",
        "body": "",
        "head": branch,
        "base": "main",
        "draft": False,
        "user": "octo-bot",
    }
    chat = scripted(
        call("edit", FIX),
        call("submit", {"title": "Fix add", "summary": "s"}),
        call("submit", {"title": "Fix add", "summary": "s"}),
    )

    outcome = await world.agent().run(make_execution(TaskMode.DEBUG, models(chat)))

    assert outcome.result is not None
    assert outcome.result.pull_request_number == 7
    assert len(world.github.pulls) == 1


async def test_debug_resolves_githubs_422_already_exists_by_reading_the_pull_request_back(
    world: World,
) -> None:
    world.github.race_open_pull = {
        "id": 9,
        "number": 1,
        "state": "open",
        "title": "Opened concurrently",
        "body": "",
        "base": "main",
        "draft": False,
        "user": "octo-bot",
    }
    chat = scripted(
        call("edit", FIX),
        call("submit", {"title": "Fix add", "summary": "s"}),
        call("submit", {"title": "Fix add", "summary": "s"}),
    )

    outcome = await world.agent().run(make_execution(TaskMode.DEBUG, models(chat)))

    assert outcome.failure is None
    assert outcome.result is not None
    assert outcome.result.pull_request_number == 1
    assert len(world.github.pulls) == 1


async def test_a_secret_in_the_change_blocks_the_push_with_a_redacted_excerpt(world: World) -> None:
    secret = "sk-live-0123456789abcdef"
    chat = scripted(
        call("edit", {"command": "create", "path": "config.py", "file_text": f"KEY = '{secret}'\n"}),
        call("submit", {"title": "Add config", "summary": "s"}),
        call("submit", {"title": "Add config", "summary": "s"}),
    )
    execution = make_execution(TaskMode.DEBUG, models(chat))

    outcome = await world.agent(exact_secrets(secret)).run(execution)

    assert outcome.failure is FailureReason.INVALID_REQUEST
    assert outcome.message is not None
    assert "secret" in outcome.message
    assert secret not in outcome.message
    branches = git("branch", "--list", cwd=world.remote)
    assert f"asynccoder/{execution.task_id}" not in branches
    assert world.github.pulls == {}


async def store_user_key(world: World, plaintext: str, provider: Provider = Provider.OPENAI) -> UserSecrets:
    """The user's BYOK key sealed as the API stores it; the agent reads it back through ``UserSecrets``."""
    box = AesGcmSecretBox([("k1", b"\x01" * 32)])
    key = make_api_key(USER_ID, provider=provider)
    sealed = box.encrypt(plaintext, context=api_key_context(key.id, key.user_id))
    async with world.uow as uow:
        await uow.api_keys.add(replace(key, sealed_key=sealed))
        await uow.commit()
    return StoredProviderKeys(world.uow, box)


async def test_the_users_stored_byok_key_blocks_the_push_when_the_change_contains_it(world: World) -> None:
    user_key = "sk-proj-" + "Zq7" * 12
    user_secrets = await store_user_key(world, user_key)
    chat = scripted(
        call("edit", {"command": "create", "path": "settings.py", "file_text": f"OPENAI = '{user_key}'\n"}),
        call("submit", {"title": "Add settings", "summary": "s"}),
        call("submit", {"title": "Add settings", "summary": "s"}),
    )
    execution = make_execution(TaskMode.DEBUG, models(chat))

    outcome = await world.agent(exact_secrets(), user_secrets=user_secrets).run(execution)

    assert outcome.failure is FailureReason.INVALID_REQUEST
    assert outcome.message is not None
    assert user_key not in outcome.message
    assert f"asynccoder/{execution.task_id}" not in git("branch", "--list", cwd=world.remote)
    assert world.github.pulls == {}


async def test_a_review_quoting_the_users_stored_key_is_not_posted(world: World) -> None:
    user_key = "sk-ant-api03-" + "Yw4" * 12
    user_secrets = await store_user_key(world, user_key, Provider.ANTHROPIC)
    head = push_feature(world, {"app.py": NEW_APP}, "add mul")
    open_pull(world, head)
    chat = scripted(call("submit", {"summary": f"Your key {user_key} is fine."}))
    agent = world.agent(exact_secrets(), user_secrets=user_secrets)

    outcome = await agent.run(make_execution(TaskMode.PR_REVIEW, models(chat), pull_request_number=3))

    assert outcome.failure is FailureReason.INVALID_REQUEST
    assert world.github.reviews == []


async def test_documentation_changes_docs_only_and_refuses_code_edits(world: World) -> None:
    chat = scripted(
        call("edit", FIX),
        call(
            "edit",
            {
                "command": "str_replace",
                "path": "README.md",
                "old_str": "Adds numbers.",
                "new_str": "Adds numbers.\n\n## Usage\n\n`add(1, 2)`",
            },
        ),
        call("submit", {"title": "Document usage", "summary": "Usage section."}),
        call("submit", {"title": "Document usage", "summary": "Usage section."}),
    )
    execution = make_execution(TaskMode.DOCUMENTATION, models(chat))

    outcome = await world.agent().run(execution)

    assert outcome.result is not None
    assert outcome.result.changed_files == ("README.md",)
    refused = [b for b in chat.requests[1].messages[-1].content if isinstance(b, ToolResult)]
    assert refused[0].is_error
    assert "documentation only" in refused[0].content
    branch = f"asynccoder/{execution.task_id}"
    changed = git("diff", "--name-only", "main", branch, cwd=world.remote).split()
    assert changed == ["README.md"]
    assert remote_file(world.remote, branch, "app.py") == APP
    assert len(world.github.pulls) == 1


async def test_ask_answers_citing_only_files_it_read(world: World) -> None:
    chat = scripted(
        call("view", {"path": "app.py"}),
        call("submit", {"answer": "`add` subtracts (app.py:2).", "cited_files": ["app.py", "lib.py"]}),
        call("submit", {"answer": "`add` subtracts (app.py:2).", "cited_files": ["app.py:2"]}),
    )

    outcome = await world.agent().run(
        make_execution(TaskMode.ASK, models(chat), instructions="What does add do?")
    )

    assert outcome.result is not None
    assert outcome.result.summary_markdown.endswith("**Files read:** `app.py`")
    refusal = next(b for b in chat.requests[2].messages[-1].content if isinstance(b, ToolResult))
    assert refusal.is_error
    assert "lib.py" in refusal.content
    assert world.workspaces.opened[0].pushed == []
    edit_tools = [t.name for t in chat.requests[0].tools if t.name == "edit"]
    assert edit_tools == []


async def test_architect_returns_a_plan_naming_real_files(world: World) -> None:
    chat = scripted(
        call("view", {"path": "app.py"}),
        call("submit", {"plan": "1. Fix add.", "affected_files": ["src/calc.py"]}),
        call(
            "submit",
            {
                "plan": "1. Fix `add`.\n2. Add a test.",
                "affected_files": ["app.py"],
                "new_files": ["tests/test_app.py"],
            },
        ),
    )

    outcome = await world.agent().run(make_execution(TaskMode.ARCHITECT, models(chat)))

    assert outcome.result is not None
    text = outcome.result.summary_markdown
    assert "## Affected files\n- `app.py`" in text
    assert "## New files\n- `tests/test_app.py`" in text
    refusal = next(b for b in chat.requests[2].messages[-1].content if isinstance(b, ToolResult))
    assert refusal.is_error
    assert "src/calc.py" in refusal.content


async def test_architect_asks_the_workspace_whether_affected_files_exist(world: World) -> None:
    asked: list[str] = []
    opened = world.workspaces.open

    @asynccontextmanager
    async def recording_open(**kwargs: Any) -> AsyncIterator[Workspace]:
        async with opened(**kwargs) as workspace:
            original = workspace.is_file

            async def is_file(path: str) -> bool:
                asked.append(path)
                return await original(path)

            workspace.is_file = is_file  # type: ignore[method-assign]
            yield workspace

    world.workspaces.open = recording_open  # type: ignore[method-assign]
    chat = scripted(call("submit", {"plan": "1. Fix `add`.", "affected_files": ["./app.py", "README.md"]}))

    outcome = await world.agent().run(make_execution(TaskMode.ARCHITECT, models(chat)))

    assert outcome.result is not None
    assert asked == ["app.py", "README.md"]


# --- PR Review ----------------------------------------------------------------------------------------------
def push_feature(world: World, files: dict[str, str], message: str) -> str:
    clone = world.workspaces.scratch / f"dev-{message.replace(' ', '-')}"
    git("clone", str(world.remote), str(clone), cwd=world.workspaces.scratch)
    existing = git("branch", "-r", cwd=clone)
    git("checkout", *(["feature"] if "origin/feature" in existing else ["-b", "feature"]), cwd=clone)
    for name, text in files.items():
        (clone / name).write_text(text)
    git("add", ".", cwd=clone)
    git("commit", "-m", message, cwd=clone)
    git("push", "origin", "feature", cwd=clone)
    return git("rev-parse", "HEAD", cwd=clone).strip()


def open_pull(world: World, head_sha: str) -> None:
    diff = git("diff", "main", head_sha, cwd=world.remote)
    world.github.pulls[(REPO, 3)] = {
        "id": 3,
        "number": 3,
        "state": "open",
        "title": "Add mul",
        "body": "",
        "head": "feature",
        "head_sha": head_sha,
        "base": "main",
        "draft": False,
        "user": "octo-dev",
        "diff": diff,
    }


NEW_APP = APP + "\n\ndef mul(a, b):\n    return a * b + 1\n"


async def test_pr_review_posts_one_review_with_inline_comments_on_diff_lines_and_the_rest_in_the_summary(
    world: World,
) -> None:
    head = push_feature(world, {"app.py": NEW_APP}, "add mul")
    open_pull(world, head)
    chat = scripted(
        call(
            "report_finding",
            {
                "path": "app.py",
                "line": 10,
                "severity": "major",
                "title": "mul adds one",
                "body": "Drop the `+ 1`.",
            },
        ),
        call(
            "report_finding",
            {"path": "app.py", "line": 2, "severity": "major", "title": "add subtracts", "body": "Use `+`."},
        ),
        call("submit", {"summary": "One bug in the new code.", "event": "REQUEST_CHANGES"}),
    )

    outcome = await world.agent().run(make_execution(TaskMode.PR_REVIEW, models(chat), pull_request_number=3))

    assert outcome.failure is None
    assert outcome.result is not None
    (review,) = world.github.reviews
    assert review["state"] == "CHANGES_REQUESTED"
    (comment,) = review["comments"]
    assert (comment["path"], comment["line"], comment["side"]) == ("app.py", 10, "RIGHT")
    assert "mul adds one" in comment["body"]
    assert "<!-- asynccoder:finding " in comment["body"]
    assert "### Findings outside the diff" in review["body"]
    assert "`app.py:2` **add subtracts**" in review["body"]
    assert f"<!-- asynccoder:review head={head} -->" in review["body"]
    prompt = chat.requests[0].messages[0].content[0]
    assert isinstance(prompt, TextBlock)
    assert "10 +    return a * b + 1" in prompt.text
    out_of_diff = next(b for b in chat.requests[2].messages[-1].content if isinstance(b, ToolResult))
    assert "outside the diff" in out_of_diff.content


async def test_a_re_review_after_a_push_covers_only_new_commits_and_does_not_repeat_itself(
    world: World,
) -> None:
    head = push_feature(world, {"app.py": NEW_APP}, "add mul")
    open_pull(world, head)
    first = scripted(
        call(
            "report_finding",
            {"path": "app.py", "line": 10, "severity": "major", "title": "mul adds one", "body": "Drop it."},
        ),
        call("submit", {"summary": "First pass."}),
    )
    await world.agent().run(make_execution(TaskMode.PR_REVIEW, models(first), pull_request_number=3))
    world.clock.advance(timedelta(minutes=5))
    newer = push_feature(world, {"app.py": NEW_APP + "\n\ndef div(a, b):\n    return a / b\n"}, "add div")
    open_pull(world, newer)
    second = scripted(
        call(
            "report_finding",
            {"path": "app.py", "line": 10, "severity": "major", "title": "Mul adds one", "body": "Again."},
        ),
        call(
            "report_finding",
            {"path": "app.py", "line": 14, "severity": "minor", "title": "div by zero", "body": "Guard b."},
        ),
        call("submit", {"summary": "Second pass."}),
    )

    await world.agent().run(make_execution(TaskMode.PR_REVIEW, models(second), pull_request_number=3))

    assert len(world.github.reviews) == 2
    (comment,) = world.github.reviews[1]["comments"]
    assert comment["line"] == 14
    assert "div by zero" in comment["body"]
    prompt = second.requests[0].messages[0].content[0]
    assert isinstance(prompt, TextBlock)
    assert "14 +    return a / b" in prompt.text
    assert "10 +    return a * b + 1" not in prompt.text  # only context now: it came in an older commit
    assert f"commits after `{head[:12]}`" in prompt.text

    world.clock.advance(timedelta(minutes=5))
    third = scripted()
    outcome = await world.agent().run(
        make_execution(TaskMode.PR_REVIEW, models(third), pull_request_number=3)
    )

    assert outcome.result is not None
    assert "Already reviewed" in outcome.result.summary_markdown
    assert third.requests == []
    assert len(world.github.reviews) == 2


def finding(path: str, line: int, title: str, **extra: object) -> dict[str, object]:
    return {"path": path, "line": line, "severity": "major", "title": title, "body": "Fix it.", **extra}


async def test_pr_review_posts_multi_line_comments_and_comments_on_removed_lines(world: World) -> None:
    changed = APP.replace("def sub(a, b):\n    return a - b\n", "def sub(a, b):\n    return b - a\n")
    head = push_feature(
        world, {"app.py": changed + "\n\ndef mul(a, b):\n    x = a\n    return x * b\n"}, "mul"
    )
    open_pull(world, head)
    chat = scripted(
        call("report_finding", finding("app.py", 6, "sub used to be right", side="LEFT"), call_id="f1"),
        call("report_finding", finding("app.py", 11, "mul needs no temp", start_line=10), call_id="f2"),
        call("report_finding", finding("app.py", 11, "crosses hunks", start_line=2), call_id="f3"),
        call("report_finding", finding("app.py", 1, "not removed", side="LEFT"), call_id="f4"),
        call("submit", {"summary": "Two problems."}),
    )

    execution = make_execution(TaskMode.PR_REVIEW, models(chat), pull_request_number=3)
    outcome = await world.agent().run(execution)

    assert outcome.failure is None
    (review,) = world.github.reviews
    left, multi = review["comments"]
    assert (left["path"], left["line"], left["side"]) == ("app.py", 6, "LEFT")
    assert "start_line" not in left
    assert (multi["start_line"], multi["start_side"], multi["line"], multi["side"]) == (
        10,
        "RIGHT",
        11,
        "RIGHT",
    )
    assert "`app.py:2-11` **crosses hunks**" in review["body"]
    assert "`app.py:1 (removed lines)` **not removed**" in review["body"]
    async with world.uow as uow:
        pull = await uow.pull_requests.get_by_number(execution.repository.repository_id, 3)
        assert pull is not None
        stored = await uow.pull_requests.list_comments(pull.id)
    # Recorded as posted, so that the next review tells the removed line 6 from the new one.
    assert sorted((c.line, c.side, c.start_line) for c in stored) == [(6, "LEFT", None), (11, "RIGHT", 10)]
    prompt = chat.requests[0].messages[0].content[0]
    assert isinstance(prompt, TextBlock)
    assert "6 -    return a - b" in prompt.text  # removed lines carry their old numbers


async def test_a_comment_github_refuses_with_422_moves_to_the_summary_and_the_review_is_posted_once_more(
    world: World,
) -> None:
    fixed_add = APP.replace("    return a - b\n\n\ndef sub", "    return a + b\n\n\ndef sub")
    mul = "\n\ndef mul(a, b):\n    return a * b\n"
    first_head = push_feature(world, {"app.py": fixed_add + mul}, "fix add and mul")
    open_pull(world, first_head)
    first = scripted(call("submit", {"summary": "First pass."}))
    await world.agent().run(make_execution(TaskMode.PR_REVIEW, models(first), pull_request_number=3))
    world.clock.advance(timedelta(minutes=5))
    # The new commit reverts line 2: the re-review's diff (against the last review) shows it, GitHub's diff
    # of the pull request against its base does not, so GitHub refuses a comment there.
    head = push_feature(world, {"app.py": APP + mul + "\n\ndef div(a, b):\n    return a / b\n"}, "div")
    open_pull(world, head)
    second = scripted(
        call("report_finding", finding("app.py", 2, "add subtracts again"), call_id="f1"),
        call("report_finding", finding("app.py", 14, "div by zero"), call_id="f2"),
        call("submit", {"summary": "Second pass."}),
    )
    log = RecordingLog()

    outcome = await world.agent().run(
        make_execution(TaskMode.PR_REVIEW, models(second), pull_request_number=3, log=log)
    )

    assert outcome.failure is None
    assert len(world.github.reviews) == 2
    review = world.github.reviews[1]
    (comment,) = review["comments"]
    assert comment["line"] == 14
    assert "### Findings outside the diff\n- `app.py:2` **add subtracts again**" in review["body"]
    posts = [r for r in world.github.requests if r[0] == "POST" and r[1].endswith("/reviews")]
    assert len(posts) == 3  # the first review, the refused one, the one that was posted
    assert any("moved to the review summary" in line for _, line, _ in log.lines)


async def test_a_large_pull_request_shows_code_first_within_the_context_budget_and_lists_the_rest(
    world: World,
) -> None:
    code = NEW_APP + "".join(f"\n\ndef f{i}(a):\n    return a + {i}\n" for i in range(6))
    lock = "{\n" + "".join(f'  "node_modules/p{i}": {{"version": "1.0.{i}"}},\n' for i in range(9)) + "}\n"
    head = push_feature(world, {"app.py": code, "package-lock.json": lock}, "big")
    open_pull(world, head)
    chat = scripted(call("submit", {"summary": "Looked at the code."}))
    small = FixedPriceModels(chat, FixedPriceBudget(cap_credits=1_000), context_window=280)

    await world.agent().run(make_execution(TaskMode.PR_REVIEW, small, pull_request_number=3))

    prompt = chat.requests[0].messages[0].content[0]
    assert isinstance(prompt, TextBlock)
    assert "## File: 'app.py'" in prompt.text
    assert "## File: 'package-lock.json'" not in prompt.text
    assert prompt.text.endswith("## Other modified files (not shown)\n- package-lock.json\n")


async def test_debug_out_of_budget_hands_its_partial_work_over_as_a_draft_pull_request(world: World) -> None:
    paths = ("app.py", "README.md", "docs/guide.md")
    looks = [call("view", {"path": paths[i % 3]}, call_id=f"v{i}") for i in range(12)]
    chat = scripted(call("edit", FIX), *looks)
    budget = FixedPriceBudget(cap_credits=100)
    execution = make_execution(TaskMode.DEBUG, FixedPriceModels(chat, budget, credits_per_call=10))

    outcome = await world.agent().run(execution)

    assert outcome.failure is None
    assert outcome.result is not None
    assert outcome.result.partial
    assert "## Hand-off notes" in outcome.result.summary_markdown
    assert outcome.result.pull_request_number == 1
    (pr,) = world.github.pulls.values()
    assert pr["draft"] is True
    assert pr["title"].startswith("WIP: ")
    assert "return a + b" in remote_file(world.remote, f"asynccoder/{execution.task_id}", "app.py")
