"""The git CLI transport against real repositories on disk (a bare repository is the remote)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynccoder.adapters.git.cli_transport import (
    GitCliTransport,
    basic_auth_header,
)
from asynccoder.domain.errors import Conflict, InvalidInput, Unavailable
from tests.support.git_repos import git

TOKEN = "gho_CanaryToken1234567890abcdef"
GITHUB = frozenset({"github.com"})


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository with one commit on ``main``."""
    bare = tmp_path / "remote.git"
    seed = tmp_path / "seed"
    git("init", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    git("init", "--initial-branch=main", str(seed), cwd=tmp_path)
    (seed / "README.md").write_text("hello\n")
    git("add", "README.md", cwd=seed)
    git("commit", "-m", "seed", cwd=seed)
    git("push", str(bare), "main", cwd=seed)
    return bare


def transport() -> GitCliTransport:
    return GitCliTransport(allowed_hosts=GITHUB, allow_local_paths=True, timeout_seconds=60)


def all_text_under(path: Path) -> str:
    chunks = []
    for file in path.rglob("*"):
        if file.is_file():
            chunks.append(file.read_bytes().decode("latin-1"))
    return "\n".join(chunks)


async def test_clone_branch_commit_and_push_reach_the_remote(remote: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    t = transport()
    await t.clone(str(remote), work, branch="main", token=TOKEN)
    await t.create_branch(work, "asynccoder/task-1")
    (work / "feature.txt").write_text("new\n")
    sha = await t.commit_all(
        work, "Add feature", author_name="Async Coder", author_email="bot@asynccoder.dev"
    )
    await t.push(work, "asynccoder/task-1", token=TOKEN)

    assert git("rev-parse", "refs/heads/asynccoder/task-1", cwd=remote).strip() == sha
    assert (
        git("log", "-1", "--format=%an <%ae>", sha, cwd=remote).strip() == "Async Coder <bot@asynccoder.dev>"
    )
    assert git("rev-parse", "--is-shallow-repository", cwd=work).strip() == "true"


async def test_the_token_is_never_written_into_the_clone(remote: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    t = transport()
    await t.clone(str(remote), work, branch="main", token=TOKEN)
    await t.create_branch(work, "b")
    (work / "x.txt").write_text("x\n")
    await t.commit_all(work, "x", author_name="A", author_email="a@example.com")
    await t.push(work, "b", token=TOKEN)

    config = (work / ".git" / "config").read_text()
    header = basic_auth_header(TOKEN).split(" ", 2)[2]
    assert TOKEN not in config
    assert header not in config
    everything = all_text_under(work / ".git")
    assert TOKEN not in everything
    assert header not in everything


async def test_hooks_in_the_repository_never_run(remote: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    marker = tmp_path / "pwned"
    t = transport()
    await t.clone(str(remote), work, branch="main", token=None)
    hooks = work / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in (
        "pre-commit",
        "commit-msg",
        "post-commit",
        "pre-push",
        "post-checkout",
        "reference-transaction",
    ):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        hook.chmod(0o755)
    await t.create_branch(work, "hooked")
    (work / "y.txt").write_text("y\n")
    await t.commit_all(work, "y", author_name="A", author_email="a@example.com")
    await t.push(work, "hooked", token=TOKEN)
    assert not marker.exists()


async def test_a_failed_push_reports_no_token(tmp_path: Path, remote: Path) -> None:
    work = tmp_path / "work"
    t = transport()
    await t.clone(str(remote), work, branch="main", token=TOKEN)
    git("remote", "set-url", "origin", str(tmp_path / "missing.git"), cwd=work)
    with pytest.raises(Unavailable) as caught:
        await t.push(work, "main", token=TOKEN)
    assert TOKEN not in str(caught.value)
    assert caught.value.code == "git_failed"


async def test_committing_nothing_is_a_conflict(remote: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    await transport().clone(str(remote), work, branch="main", token=None)
    with pytest.raises(Conflict):
        await transport().commit_all(work, "nothing", author_name="A", author_email="a@example.com")


async def test_local_paths_are_refused_outside_development(remote: Path, tmp_path: Path) -> None:
    production = GitCliTransport(allowed_hosts=GITHUB, allow_local_paths=False)
    with pytest.raises(InvalidInput):
        await production.clone(str(remote), tmp_path / "w", branch="main", token=None)


@pytest.mark.parametrize(
    "url",
    [
        "http://github.com/o/r.git",
        "https://user:pw@github.com/o/r.git",
        "https://evil.example.com/o/r.git",
        "ext::sh -c touch% /tmp/pwned",
        "file:///etc",
        "--upload-pack=touch /tmp/pwned",
    ],
)
async def test_unsafe_urls_are_refused_before_git_runs(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        await transport().clone(url, tmp_path / "w", branch="main", token=None)


async def test_a_submodule_is_not_fetched(tmp_path: Path, remote: Path) -> None:
    sub = tmp_path / "sub"
    git("init", "--initial-branch=main", str(sub), cwd=tmp_path)
    (sub / "s.txt").write_text("s\n")
    git("add", ".", cwd=sub)
    git("commit", "-m", "s", cwd=sub)
    seed = tmp_path / "seed"
    git("-c", "protocol.file.allow=always", "submodule", "add", str(sub), "vendored", cwd=seed)
    git("commit", "-m", "add submodule", cwd=seed)
    git("push", str(remote), "main", cwd=seed)

    work = tmp_path / "work"
    await transport().clone(str(remote), work, branch="main", token=None)
    assert (work / ".gitmodules").exists()
    assert not (work / "vendored" / "s.txt").exists()


async def test_over_https_the_token_travels_only_as_the_authorization_header(
    remote: Path, tmp_path: Path
) -> None:
    from tests.support.git_https_server import git_https_server

    tls = tmp_path / "tls"
    tls.mkdir()
    with git_https_server(tmp_path, TOKEN, tls) as server:
        t = GitCliTransport(
            allowed_hosts=frozenset({server.host}),
            allow_local_paths=False,
            timeout_seconds=60,
            ca_bundle=server.ca_file,
        )
        work = tmp_path / "work"
        await t.clone(server.url("remote.git"), work, branch="main", token=TOKEN)
        await t.create_branch(work, "over-https")
        (work / "h.txt").write_text("h\n")
        sha = await t.commit_all(work, "h", author_name="A", author_email="a@example.com")
        await t.push(work, "over-https", token=TOKEN)

        assert git("rev-parse", "refs/heads/over-https", cwd=remote).strip() == sha
        assert server.seen_authorization
        assert set(server.seen_authorization) == {basic_auth_header(TOKEN).split(": ", 1)[1]}
        assert TOKEN not in (work / ".git" / "config").read_text()

        with pytest.raises(Unavailable) as caught:
            await t.clone(server.url("remote.git"), tmp_path / "denied", branch="main", token="gho_wrong")
        assert "gho_wrong" not in str(caught.value)
