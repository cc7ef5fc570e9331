"""The git transport's diff, lease and pull-request operations on real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynccoder.adapters.git.cli_transport import GitCliTransport
from asynccoder.domain.errors import Unavailable
from tests.support.git_repos import git


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    seed = tmp_path / "seed"
    git("init", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    git("init", "--initial-branch=main", str(seed), cwd=tmp_path)
    (seed / "tracked.txt").write_text("one\n")
    (seed / ".gitignore").write_text("ignored.log\n")
    git("add", ".", cwd=seed)
    git("commit", "-m", "seed", cwd=seed)
    git("push", str(bare), "main", cwd=seed)
    work = tmp_path / "work"
    git("clone", str(bare), str(work), cwd=tmp_path)
    return work


def transport() -> GitCliTransport:
    return GitCliTransport(
        allowed_hosts=frozenset({"github.com"}), allow_local_paths=True, timeout_seconds=60
    )


async def test_the_diff_includes_untracked_files_skips_ignored_ones_and_leaves_the_index_alone(
    clone: Path,
) -> None:
    (clone / "tracked.txt").write_text("two\n")
    (clone / "untracked.py").write_text("x = 1\n")
    (clone / "ignored.log").write_text("noise\n")
    index_before = (clone / ".git" / "index").read_bytes()
    diff = await transport().diff(clone, "HEAD")
    assert "+two" in diff
    assert "+++ b/untracked.py" in diff
    assert "ignored.log" not in diff
    assert await transport().changed_files(clone, "HEAD") == ("tracked.txt", "untracked.py")
    assert (clone / ".git" / "index").read_bytes() == index_before
    assert git("status", "--porcelain", cwd=clone) == " M tracked.txt\n?? untracked.py\n"


async def test_a_lease_on_a_missing_branch_refuses_a_branch_that_appeared_meanwhile(clone: Path) -> None:
    t = transport()
    assert await t.remote_branch_head(clone, "asynccoder/x", token=None) is None
    git("push", "origin", "HEAD:refs/heads/asynccoder/x", cwd=clone)  # someone else created it
    await t.create_branch(clone, "asynccoder/x")
    (clone / "new.txt").write_text("n\n")
    await t.commit_all(clone, "n", author_name="A", author_email="a@example.com")
    with pytest.raises(Unavailable):
        await t.push_with_lease(clone, "asynccoder/x", token=None, expected_remote_sha=None)
    current = await t.remote_branch_head(clone, "asynccoder/x", token=None)
    await t.push_with_lease(clone, "asynccoder/x", token=None, expected_remote_sha=current)
    assert await t.remote_branch_head(clone, "asynccoder/x", token=None) == await t.rev_parse(clone, "HEAD")


async def test_bad_revisions_and_pull_request_numbers_are_refused(clone: Path) -> None:
    with pytest.raises(Unavailable):
        await transport().rev_parse(clone, "--output=/tmp/x")
    with pytest.raises(Unavailable):
        await transport().checkout_pull_request(clone, 0, token=None)
