"""The local-git development code host over real repositories on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynccoder.adapters.git.local_code_host import LocalGitCodeHost
from asynccoder.application.ports.code_hosting import InlineComment
from asynccoder.domain.code_hosting import Permission, PullRequestState
from asynccoder.domain.errors import InvalidInput, NotFound, Refused
from tests.support.builders import T0
from tests.support.git_repos import make_repo
from tests.support.system import ManualClock


@pytest.fixture
def host(tmp_path: Path) -> LocalGitCodeHost:
    make_repo(tmp_path, "acme/demo")
    make_repo(tmp_path, "acme/other", feature=False)
    (tmp_path / "acme" / "not-a-repo").mkdir()
    return LocalGitCodeHost(tmp_path, ManualClock(T0))


async def test_repositories_under_the_root_are_listed_with_admin_rights(host: LocalGitCodeHost) -> None:
    page = await host.list_repositories("", page=1, per_page=10)
    assert [r.full_name for r in page.items] == ["acme/demo", "acme/other"]
    assert all(r.permission is Permission.ADMIN for r in page.items)
    assert page.next_page is None
    first = await host.list_repositories("", page=1, per_page=1)
    assert first.next_page == 2


async def test_a_repository_is_described_with_its_default_branch(
    host: LocalGitCodeHost, tmp_path: Path
) -> None:
    repo = await host.get_repository("", "acme/demo")
    assert repo.default_branch == "main"
    assert repo.clone_url == str((tmp_path / "acme" / "demo").resolve())
    assert repo.host_id is None


@pytest.mark.parametrize("name", ["acme/missing", "acme/not-a-repo"])
async def test_missing_repositories_are_not_found(host: LocalGitCodeHost, name: str) -> None:
    with pytest.raises(NotFound):
        await host.get_repository("", name)


@pytest.mark.parametrize("name", ["../etc", "acme/..", "/abs/path", "acme/demo/../../x"])
async def test_paths_outside_the_root_are_refused(host: LocalGitCodeHost, name: str) -> None:
    with pytest.raises(InvalidInput):
        await host.get_repository("", name)


async def test_a_pull_request_is_opened_found_read_reviewed_and_commented(host: LocalGitCodeHost) -> None:
    opened = await host.open_pull_request(
        "", "acme/demo", head="feature", base="main", title="Feature", body="B"
    )
    found = await host.find_open_pull_request("", "acme/demo", "feature")
    details = await host.read_pull_request("", "acme/demo", opened.number)
    review = await host.post_review(
        "",
        "acme/demo",
        opened.number,
        body="ok",
        event="APPROVE",
        comments=[InlineComment("app.py", 1, "good")],
    )
    comment = await host.post_issue_comment("", "acme/demo", opened.number, "thanks")

    assert opened.number == 1
    assert opened.state is PullRequestState.OPEN
    assert opened.head_sha is not None
    assert found == opened
    assert "+print('hello')" in details.diff
    assert sorted((f.filename, f.status) for f in details.files) == [
        ("app.py", "modified"),
        ("new.txt", "added"),
    ]
    assert review.state == "approved"
    assert comment.host_comment_id != review.host_review_id


async def test_a_pull_request_needs_existing_branches(host: LocalGitCodeHost) -> None:
    with pytest.raises(Refused):
        await host.open_pull_request("", "acme/other", head="nope", base="main", title="T", body="B")
