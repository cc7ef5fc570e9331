"""Pure code-hosting rules: repository identifiers, URLs, branch names, permissions, ordering."""

from __future__ import annotations

import string
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccoder.domain.code_hosting import (
    Permission,
    newer_or_unknown,
    validate_branch_name,
    validate_full_name,
    validate_repository_url,
)
from asynccoder.domain.errors import InvalidInput
from tests.support.builders import T0

GITHUB = frozenset({"github.com"})
owners = st.from_regex(r"\A[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\Z")
names = st.text(alphabet=string.ascii_letters + string.digits + "._-", min_size=1, max_size=100).filter(
    lambda n: n not in {".", ".."} and not n.lower().endswith(".git")
)


@given(owners, names)
def test_every_identifier_github_allows_is_accepted_unchanged(owner: str, name: str) -> None:
    assert validate_full_name(f"{owner}/{name}") == f"{owner}/{name}"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "owner",
        "/name",
        "owner/",
        "-owner/name",
        "owner-/name",
        "own--er/name",
        "o" * 40 + "/name",
        "owner/" + "n" * 101,
        "owner/..",
        "owner/.",
        "owner/name.git",
        "owner/na me",
        "owner/name/extra",
        "owner/na%2fme",
        "ow ner/name",
        "owner/ñame",
    ],
)
def test_identifiers_github_would_refuse_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_full_name(bad)
    assert caught.value.problems[0].field == "full_name"


@given(st.text(max_size=60))
def test_validation_never_crashes_and_accepts_only_one_slash(raw: str) -> None:
    try:
        result = validate_full_name(raw)
    except InvalidInput:
        return
    assert result.count("/") == 1


@given(owners, names)
def test_https_github_urls_are_accepted(owner: str, name: str) -> None:
    url = f"https://github.com/{owner}/{name}.git"
    assert validate_repository_url(url, allowed_hosts=GITHUB, allow_local_paths=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://github.com/o/r.git",
        "git://github.com/o/r.git",
        "ssh://git@github.com/o/r.git",
        "git@github.com:o/r.git",
        "https://token@github.com/o/r.git",
        "https://user:pass@github.com/o/r.git",
        "https://github.com.evil.com/o/r.git",
        "https://evil.com/github.com/o/r.git",
        "https://github.com:8443/o/r.git",
        "https://github.com/o/r.git?x=1",
        "https://github.com/o/r.git#frag",
        "https://github.com/o/../../r.git",
        "https://127.0.0.1/o/r.git",
        "file:///etc/passwd",
        "ext::sh -c id",
        "/srv/repos/o/r",
        "https://github.com/o/r\n.git",
        "",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        validate_repository_url(url, allowed_hosts=GITHUB, allow_local_paths=False)


def test_the_enterprise_host_and_an_explicit_port_are_allowed_when_configured() -> None:
    hosts = frozenset({"ghe.example.com", "git.example.com:8443"})
    assert validate_repository_url(
        "https://ghe.example.com/o/r.git", allowed_hosts=hosts, allow_local_paths=False
    )
    assert validate_repository_url(
        "https://git.example.com:8443/o/r.git", allowed_hosts=hosts, allow_local_paths=False
    )
    with pytest.raises(InvalidInput):
        validate_repository_url("https://github.com/o/r.git", allowed_hosts=hosts, allow_local_paths=False)


def test_local_paths_only_in_development() -> None:
    assert (
        validate_repository_url("/srv/repos/o/r", allowed_hosts=GITHUB, allow_local_paths=True)
        == "/srv/repos/o/r"
    )
    for bad in ["/srv/../etc", "relative/path"]:
        with pytest.raises(InvalidInput):
            validate_repository_url(bad, allowed_hosts=GITHUB, allow_local_paths=True)


@given(st.text(max_size=80))
def test_any_accepted_url_is_https_on_the_host_or_a_local_path(raw: str) -> None:
    try:
        url = validate_repository_url(raw, allowed_hosts=GITHUB, allow_local_paths=True)
    except InvalidInput:
        return
    assert url.startswith(("https://github.com", "/"))
    assert "@" not in url.split("/", 3)[2] if url.startswith("https://") else True


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "-rf",
        "a..b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "/a",
        "a/",
        "a.lock",
        "@",
        "a@{1}",
        ".hidden",
        "a//b",
    ],
)
def test_branch_names_git_would_refuse_or_misread_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validate_branch_name(bad)


@pytest.mark.parametrize("good", ["main", "feature/x", "asynccoder/task-0190", "release-1.2", "UPPER_case"])
def test_ordinary_branch_names_pass(good: str) -> None:
    assert validate_branch_name(good) == good


def test_permissions_are_ordered() -> None:
    assert Permission.ADMIN.allows(Permission.WRITE)
    assert Permission.WRITE.allows(Permission.WRITE)
    assert not Permission.READ.allows(Permission.WRITE)


def test_an_older_snapshot_never_replaces_a_newer_one() -> None:
    assert newer_or_unknown(None, T0)
    assert newer_or_unknown(T0, None)
    assert newer_or_unknown(T0, T0)
    assert not newer_or_unknown(T0, T0 - timedelta(seconds=1))
