"""Task workspaces on real repositories (a bare repository is the remote), hostile content included."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from asynccoder.adapters.agent_tools.editor import FileEditorTool
from asynccoder.adapters.git.cli_transport import GitCliTransport
from asynccoder.adapters.git.workspace import GitWorkspaceFactory
from asynccoder.application.ports.task_execution import RepositoryCheckout
from asynccoder.domain.agent.diffs import parse_unified_diff
from asynccoder.domain.errors import Refused, Unavailable
from tests.support.git_repos import git

TASK = uuid.UUID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
TOKEN = "gho_" + "T0ken" * 8


class CountingCredentials:
    def __init__(self, token: str | None = TOKEN) -> None:
        self.calls = 0
        self._token = token

    async def token(self) -> str | None:
        self.calls += 1
        return self._token


def seed_remote(tmp_path: Path, files: dict[str, str], *, extra: list[tuple[str, ...]] = ()) -> Path:  # type: ignore[assignment]
    bare = tmp_path / "remote.git"
    seed = tmp_path / "seed"
    git("init", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    git("init", "--initial-branch=main", str(seed), cwd=tmp_path)
    for name, content in files.items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(content)
    for command in extra:
        git(*command, cwd=seed)
    git("add", "--all", cwd=seed)
    git("commit", "-m", "seed", cwd=seed)
    git("push", str(bare), "main", cwd=seed)
    return bare


def marks(marker: Path, what: str) -> str:
    """A git config value (quoted: ``;`` would start a comment) running a command that leaves a mark."""
    return f"\"sh -c 'echo {what} >> {marker}; cat' --\""


def checkout_of(remote: Path) -> RepositoryCheckout:
    return RepositoryCheckout(
        repository_id=uuid.uuid4(), full_name="o/r", clone_url=str(remote), base_branch="main"
    )


def factory(tmp_path: Path) -> GitWorkspaceFactory:
    transport = GitCliTransport(
        allowed_hosts=frozenset({"github.com"}), allow_local_paths=True, timeout_seconds=60
    )
    return GitWorkspaceFactory(transport, parent=tmp_path / "workspaces")


async def test_a_writing_task_commits_on_its_branch_as_the_platform_and_pushes(tmp_path: Path) -> None:
    remote = seed_remote(tmp_path, {"app.py": "print('hi')\n"})
    credentials = CountingCredentials()
    async with factory(tmp_path).open(
        task_id=TASK, repository=checkout_of(remote), credentials=credentials, writable=True
    ) as ws:
        assert ws.branch == f"asynccoder/{TASK}"
        assert git("rev-parse", "--is-shallow-repository", cwd=ws.root).strip() == "true"
        (ws.root / "app.py").write_text("print('hello')\n")
        (ws.root / "notes.md").write_text("# notes\n")
        diff = await ws.diff()
        assert {f.path for f in parse_unified_diff(diff)} == {"app.py", "notes.md"}
        assert await ws.changed_files() == ("app.py", "notes.md")
        calls_before_push = credentials.calls
        sha = await ws.commit_and_push("Fix the greeting")
        assert credentials.calls == calls_before_push + 1  # fetched again just before the push
        root = ws.root
    assert git("rev-parse", f"refs/heads/asynccoder/{TASK}", cwd=remote).strip() == sha
    log = git("log", "-1", "--format=%an <%ae>%n%B", sha, cwd=remote)
    assert log.startswith("Async Coder <bot@asynccoder.dev>\nFix the greeting\n")
    assert f"Async-Coder-Task: {TASK}" in log
    assert not root.exists()
    assert not (tmp_path / "workspaces").exists() or not any((tmp_path / "workspaces").iterdir())


async def test_a_retry_replaces_its_own_push_but_never_newer_commits_by_someone_else(tmp_path: Path) -> None:
    remote = seed_remote(tmp_path, {"a.txt": "a\n"})
    async with factory(tmp_path).open(
        task_id=TASK, repository=checkout_of(remote), credentials=CountingCredentials(), writable=True
    ) as ws:
        (ws.root / "a.txt").write_text("first attempt\n")
        await ws.commit_and_push("First attempt")
    async with factory(tmp_path).open(
        task_id=TASK, repository=checkout_of(remote), credentials=CountingCredentials(), writable=True
    ) as ws:
        (ws.root / "a.txt").write_text("second attempt\n")
        # someone pushes to the task branch after this attempt opened its workspace
        other = tmp_path / "other"
        git("clone", "--branch", f"asynccoder/{TASK}", str(remote), str(other), cwd=tmp_path)
        (other / "b.txt").write_text("theirs\n")
        git("add", ".", cwd=other)
        git("commit", "-m", "theirs", cwd=other)
        git("push", "origin", f"asynccoder/{TASK}", cwd=other)
        theirs = git("rev-parse", "HEAD", cwd=other).strip()
        with pytest.raises(Unavailable):
            await ws.commit_and_push("Second attempt")
    assert git("rev-parse", f"refs/heads/asynccoder/{TASK}", cwd=remote).strip() == theirs

    async with factory(tmp_path).open(
        task_id=TASK, repository=checkout_of(remote), credentials=CountingCredentials(), writable=True
    ) as ws:
        (ws.root / "a.txt").write_text("third attempt\n")
        sha = await ws.commit_and_push("Third attempt")
    assert git("rev-parse", f"refs/heads/asynccoder/{TASK}", cwd=remote).strip() == sha


async def test_a_push_carrying_a_secret_is_blocked_with_a_redacted_message(tmp_path: Path) -> None:
    remote = seed_remote(tmp_path, {"a.txt": "a\n"})
    user_key = "sk-ant-api03-" + "userkey" * 5
    async with factory(tmp_path).open(
        task_id=TASK,
        repository=checkout_of(remote),
        credentials=CountingCredentials(),
        writable=True,
        known_secrets=[user_key],
    ) as ws:
        (ws.root / "config.py").write_text(f"KEY = '{user_key}'\nGIT = '{TOKEN}'\n")
        with pytest.raises(Refused) as caught:
            await ws.commit_and_push("Add config")
    assert caught.value.code == "secret_detected"
    assert user_key not in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert "[REDACTED]" in str(caught.value)
    assert "refs/heads/asynccoder" not in git("for-each-ref", cwd=remote)


async def test_a_read_only_workspace_checks_out_the_ref_and_refuses_to_push(tmp_path: Path) -> None:
    remote = seed_remote(tmp_path, {"a.txt": "a\n"})
    seed = tmp_path / "seed"
    git("checkout", "-b", "feature", cwd=seed)
    (seed / "a.txt").write_text("feature\n")
    git("commit", "-am", "feature", cwd=seed)
    git("push", str(remote), "feature", cwd=seed)
    async with factory(tmp_path).open(
        task_id=TASK,
        repository=checkout_of(remote),
        credentials=CountingCredentials(),
        writable=False,
        ref="feature",
    ) as ws:
        assert (ws.root / "a.txt").read_text() == "feature\n"
        assert ws.branch == "feature"
        with pytest.raises(Refused):
            await ws.commit_and_push("nope")


async def test_hostile_repositories_run_no_hook_no_filter_and_fetch_no_submodule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    hooks = tmp_path / "evil-hooks"
    hooks.mkdir()
    for name in (
        "post-checkout",
        "pre-commit",
        "commit-msg",
        "post-commit",
        "pre-push",
        "reference-transaction",
    ):
        (hooks / name).write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        (hooks / name).chmod(0o755)
    # The host's own git configuration would run them; the workspace must not inherit any of it.
    evil_config = tmp_path / "evil.gitconfig"
    evil_config.write_text(
        f"[core]\n\thooksPath = {hooks}\n"
        '[filter "evil"]\n'
        f"\tsmudge = {marks(marker, 'smudge')}\n\tclean = {marks(marker, 'clean')}\n\trequired = true\n"
        f'[diff "evil"]\n\ttextconv = {marks(marker, "textconv")}\n'
    )
    sub = tmp_path / "sub"
    git("init", "--initial-branch=main", str(sub), cwd=tmp_path)
    (sub / "s.txt").write_text("submodule content\n")
    git("add", ".", cwd=sub)
    git("commit", "-m", "s", cwd=sub)
    remote = seed_remote(
        tmp_path,
        {
            ".gitattributes": "* filter=evil diff=evil\n",
            "app.py": "x = 1\n",
            "committed-hooks/pre-commit": "x\n",
        },
        extra=[("-c", "protocol.file.allow=always", "submodule", "add", str(sub), "vendored")],
    )
    seed = tmp_path / "seed"
    (seed / "escape").symlink_to(tmp_path / "outside-secret.txt")
    (tmp_path / "outside-secret.txt").write_text("host secret\n")
    git("add", "escape", cwd=seed)
    git("commit", "-m", "symlink", cwd=seed)
    git("push", str(remote), "main", cwd=seed)

    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(evil_config))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".gitconfig").write_text(evil_config.read_text())

    async with factory(tmp_path).open(
        task_id=TASK, repository=checkout_of(remote), credentials=CountingCredentials(), writable=True
    ) as ws:
        assert (ws.root / ".gitmodules").exists()
        assert not (ws.root / "vendored" / "s.txt").exists()
        assert (ws.root / "escape").is_symlink()
        viewed = await FileEditorTool(ws).run({"command": "view", "path": "escape"})
        assert viewed.is_error
        assert "host secret" not in viewed.text
        (ws.root / "app.py").write_text("x = 2\n")
        assert "x = 2" in await ws.diff()
        await ws.commit_and_push("Change x")
    assert not marker.exists(), marker.read_text() if marker.exists() else ""


async def test_a_review_workspace_checks_out_the_pull_request_head_even_from_a_fork(tmp_path: Path) -> None:
    remote = seed_remote(tmp_path, {"a.txt": "base\n"})
    fork = tmp_path / "fork"
    git("clone", str(remote), str(fork), cwd=tmp_path)
    (fork / "a.txt").write_text("from the fork\n")
    git("commit", "-am", "fork change", cwd=fork)
    head = git("rev-parse", "HEAD", cwd=fork).strip()
    git("push", str(remote), "HEAD:refs/pull/7/head", cwd=fork)  # what GitHub keeps for every PR
    checkout = RepositoryCheckout(
        repository_id=uuid.uuid4(),
        full_name="o/r",
        clone_url=str(remote),
        base_branch="main",
        pull_request_number=7,
    )
    async with factory(tmp_path).open(
        task_id=TASK, repository=checkout, credentials=CountingCredentials(), writable=False
    ) as ws:
        assert (ws.root / "a.txt").read_text() == "from the fork\n"
        assert ws.base_ref == head
        assert ws.branch == "pull/7"


async def test_a_nested_repository_planted_in_the_workspace_runs_nothing_on_the_host(tmp_path: Path) -> None:
    remote = seed_remote(tmp_path, {"a.txt": "a\n"})
    marker = tmp_path / "pwned"
    async with factory(tmp_path).open(
        task_id=TASK, repository=checkout_of(remote), credentials=CountingCredentials(), writable=True
    ) as ws:
        # What a command in the sandbox could leave behind: a repository whose own config runs commands.
        nested = ws.root / "nested"
        git("init", "--initial-branch=main", str(nested), cwd=tmp_path)
        (nested / ".gitattributes").write_text("* filter=evil\n")
        (nested / "f.txt").write_text("f\n")
        git("add", ".", cwd=nested)
        git("commit", "-m", "n", cwd=nested)
        (nested / "f.txt").write_text("changed\n")
        with (nested / ".git" / "config").open("a") as config:
            config.write(
                f"[core]\n\tfsmonitor = {marks(marker, 'fsmonitor')}\n"
                f'[filter "evil"]\n\tclean = {marks(marker, "clean")}\n'
            )
        (ws.root / "a.txt").write_text("b\n")
        await ws.diff()
        await ws.changed_files()
        await ws.commit_and_push("Change a")
    assert not marker.exists(), marker.read_text() if marker.exists() else ""


async def test_is_file_answers_only_for_regular_files_inside_the_checkout(tmp_path: Path) -> None:
    outside = tmp_path / "host-secret.txt"
    outside.write_text("secret\n")
    remote = seed_remote(tmp_path, {"src/app.py": "x = 1\n"})
    async with factory(tmp_path).open(
        task_id=TASK, repository=checkout_of(remote), credentials=CountingCredentials(), writable=False
    ) as ws:
        (ws.root / "leak").symlink_to(outside)
        (ws.root / "alias").symlink_to("src/app.py")
        assert await ws.is_file("src/app.py")
        assert await ws.is_file("./src/app.py")
        assert await ws.is_file("alias")
        assert not await ws.is_file("src")
        assert not await ws.is_file("missing.py")
        assert not await ws.is_file("leak")
        assert not await ws.is_file(str(outside))
        assert not await ws.is_file("src/../../host-secret.txt")
        assert not await ws.is_file(".git/config")
