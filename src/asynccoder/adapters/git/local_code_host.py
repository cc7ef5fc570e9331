"""A code host made of local git repositories, for development mode and offline use.

``owner/name`` is the git repository at ``<root>/<owner>/<name>`` (bare or not). The local user is the
admin of every repository there. Pull requests, reviews and comments exist only in the platform: this
adapter keeps them in ``<root>/.asynccoder/<owner>/<name>.json`` (so ``find_open_pull_request`` and
``read_pull_request`` work), and the platform records them in its own tables as it would for GitHub. There are
no webhooks: the platform's own actions are the only source of events.
"""

from __future__ import annotations

import json
import subprocess
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio.to_thread

from asynccoder.adapters.git.cli_transport import GitCliTransport
from asynccoder.application.ports.code_hosting import (
    ChangedFile,
    CodeHost,
    HostedPullRequest,
    HostedRepository,
    InlineComment,
    PostedComment,
    PostedReview,
    PullRequestDetails,
    RepositoryPage,
    WebhookRegistration,
)
from asynccoder.application.ports.system import Clock
from asynccoder.domain.code_hosting import Permission, PullRequestState, Visibility, validate_full_name
from asynccoder.domain.errors import NotFound, Refused

_STATUS = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied", "T": "changed"}


class LocalGitCodeHost(CodeHost):
    """Repositories under ``root``; the token is ignored (``requires_token`` is False)."""

    name = "local"
    requires_token = False
    supports_webhooks = False

    def __init__(self, root: Path, clock: Clock) -> None:
        self._root = root.expanduser().resolve()
        self._clock = clock
        self._lock = threading.Lock()
        self._git_env = GitCliTransport(allowed_hosts=frozenset(), allow_local_paths=True).environment(
            None, {}
        )

    # --- helpers ------------------------------------------------------------------------------------------

    def _path(self, full_name: str) -> Path:
        full_name = validate_full_name(full_name)
        path = (self._root / full_name).resolve()
        if self._root not in path.parents or not self._is_repository(path):
            raise NotFound("No such local repository.", code="code_host_not_found")
        return path

    @staticmethod
    def _is_repository(path: Path) -> bool:
        return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())

    def _git(self, path: Path, *args: str) -> str:
        result = subprocess.run(  # noqa: S603 - fixed binary, arguments validated by the caller
            ["git", *args],  # noqa: S607
            cwd=path,
            env=self._git_env,
            capture_output=True,
            check=False,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise Refused("The local repository rejected the request.", code="code_host_rejected")
        return result.stdout.decode("utf-8", "replace")

    def _has_branch(self, path: Path, branch: str) -> bool:
        try:
            self._git(path, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        except Refused:
            return False
        return True

    def _describe(self, full_name: str, path: Path) -> HostedRepository:
        try:
            head = self._git(path, "symbolic-ref", "--short", "HEAD").strip() or "main"
        except Refused:
            head = "main"
        return HostedRepository(
            host_id=None,
            full_name=full_name,
            default_branch=head,
            visibility=Visibility.PRIVATE,
            permission=Permission.ADMIN,
            html_url=None,  # no web page, and a file:// URL would expose a server path
            clone_url=str(path),
        )

    def _meta_path(self, full_name: str) -> Path:
        return self._root / ".asynccoder" / f"{full_name}.json"

    def _load(self, full_name: str) -> dict[str, Any]:
        path = self._meta_path(full_name)
        if not path.exists():
            return {"pulls": [], "reviews": [], "comments": [], "next_id": 1}
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def _save(self, full_name: str, data: dict[str, Any]) -> None:
        path = self._meta_path(full_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)

    @staticmethod
    def _pull(raw: dict[str, Any], head_sha: str | None) -> HostedPullRequest:
        return HostedPullRequest(
            number=raw["number"],
            title=raw["title"],
            body=raw.get("body"),
            state=PullRequestState(raw["state"]),
            author_login=raw.get("author"),
            head_ref=raw["head"],
            head_sha=head_sha,
            base_ref=raw["base"],
            html_url=None,
            draft=bool(raw.get("draft")),
            created_at=datetime.fromisoformat(raw["created_at"]),
            updated_at=datetime.fromisoformat(raw["updated_at"]),
        )

    def _head_sha(self, path: Path, branch: str) -> str | None:
        try:
            return self._git(path, "rev-parse", f"refs/heads/{branch}").strip() or None
        except Refused:
            return None

    # --- the port -----------------------------------------------------------------------------------------

    async def list_repositories(self, token: str, *, page: int, per_page: int) -> RepositoryPage:
        def call() -> RepositoryPage:
            found: list[HostedRepository] = []
            if self._root.is_dir():
                for owner in sorted(
                    p for p in self._root.iterdir() if p.is_dir() and not p.name.startswith(".")
                ):
                    for repo in sorted(p for p in owner.iterdir() if p.is_dir() and self._is_repository(p)):
                        full_name = f"{owner.name}/{repo.name}"
                        try:
                            validate_full_name(full_name)
                        except Exception:  # noqa: S112 - names GitHub would not accept are skipped
                            continue
                        found.append(self._describe(full_name, repo))
            start = (page - 1) * per_page
            items = found[start : start + per_page]
            return RepositoryPage(items, page + 1 if start + per_page < len(found) else None)

        return await anyio.to_thread.run_sync(call)

    async def get_repository(self, token: str, full_name: str) -> HostedRepository:
        return await anyio.to_thread.run_sync(lambda: self._describe(full_name, self._path(full_name)))

    async def register_webhook(self, token: str, full_name: str, hook: WebhookRegistration) -> int | None:
        return None

    async def remove_webhook(self, token: str, full_name: str, hook_id: int) -> None:
        return None

    async def collaborator_permission(self, token: str, full_name: str, login: str) -> Permission | None:
        """Everyone on the development host has the access ``get_repository`` reports."""
        return (await self.get_repository(token, full_name)).permission

    async def read_pull_request(self, token: str, full_name: str, number: int) -> PullRequestDetails:
        def call() -> PullRequestDetails:
            path = self._path(full_name)
            with self._lock:
                raw = next((p for p in self._load(full_name)["pulls"] if p["number"] == number), None)
            if raw is None:
                raise NotFound("No such pull request.", code="code_host_not_found")
            span = f"refs/heads/{raw['base']}...refs/heads/{raw['head']}"
            diff = self._git(path, "diff", "--no-ext-diff", "--no-color", span)
            numstat = self._git(path, "diff", "--numstat", span).splitlines()
            names = self._git(path, "diff", "--name-status", span).splitlines()
            files = []
            for stat, name in zip(numstat, names, strict=False):
                added, deleted, filename = stat.split("\t")[:3]
                status = name.split("\t")[0][:1]
                files.append(
                    ChangedFile(
                        filename=filename,
                        status=_STATUS.get(status, "modified"),
                        additions=int(added) if added.isdigit() else 0,
                        deletions=int(deleted) if deleted.isdigit() else 0,
                    )
                )
            return PullRequestDetails(self._pull(raw, self._head_sha(path, raw["head"])), files, diff)

        return await anyio.to_thread.run_sync(call)

    async def find_open_pull_request(
        self, token: str, full_name: str, head_branch: str
    ) -> HostedPullRequest | None:
        def call() -> HostedPullRequest | None:
            path = self._path(full_name)
            with self._lock:
                pulls = self._load(full_name)["pulls"]
            raw = next((p for p in pulls if p["head"] == head_branch and p["state"] == "open"), None)
            return self._pull(raw, self._head_sha(path, head_branch)) if raw else None

        return await anyio.to_thread.run_sync(call)

    async def open_pull_request(
        self, token: str, full_name: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> HostedPullRequest:
        def call() -> HostedPullRequest:
            path = self._path(full_name)
            if not self._has_branch(path, head) or not self._has_branch(path, base):
                raise Refused("The head or base branch does not exist.", code="code_host_rejected")
            now = self._clock.now().isoformat()
            with self._lock:
                data = self._load(full_name)
                raw = {
                    "number": len(data["pulls"]) + 1,
                    "title": title,
                    "body": body,
                    "state": "open",
                    "head": head,
                    "base": base,
                    "draft": draft,
                    "author": None,
                    "created_at": now,
                    "updated_at": now,
                }
                data["pulls"].append(raw)
                self._save(full_name, data)
            return self._pull(raw, self._head_sha(path, head))

        return await anyio.to_thread.run_sync(call)

    async def post_review(
        self,
        token: str,
        full_name: str,
        number: int,
        *,
        body: str,
        event: str,
        comments: list[InlineComment],
        commit_sha: str | None = None,
    ) -> PostedReview:
        state = {"APPROVE": "approved", "REQUEST_CHANGES": "changes_requested"}.get(event, "commented")

        def call() -> PostedReview:
            self._path(full_name)
            now = self._clock.now()
            with self._lock:
                data = self._load(full_name)
                if not any(p["number"] == number for p in data["pulls"]):
                    raise NotFound("No such pull request.", code="code_host_not_found")
                review_id = data["next_id"]
                data["next_id"] += 1
                data["reviews"].append(
                    {
                        "id": review_id,
                        "number": number,
                        "body": body,
                        "state": state,
                        "comments": [_inline(c) for c in comments],
                        "submitted_at": now.isoformat(),
                    }
                )
                self._save(full_name, data)
            return PostedReview(review_id, state, now)

        return await anyio.to_thread.run_sync(call)

    async def post_issue_comment(self, token: str, full_name: str, number: int, body: str) -> PostedComment:
        def call() -> PostedComment:
            self._path(full_name)
            now = self._clock.now()
            with self._lock:
                data = self._load(full_name)
                if not any(p["number"] == number for p in data["pulls"]):
                    raise NotFound("No such pull request.", code="code_host_not_found")
                comment_id = data["next_id"]
                data["next_id"] += 1
                data["comments"].append(
                    {"id": comment_id, "number": number, "body": body, "created_at": now.isoformat()}
                )
                self._save(full_name, data)
            return PostedComment(comment_id, now)

        return await anyio.to_thread.run_sync(call)


def _inline(comment: InlineComment) -> dict[str, Any]:
    data: dict[str, Any] = {"path": comment.path, "line": comment.line, "body": comment.body}
    if comment.side != "RIGHT":
        data["side"] = comment.side
    if comment.start_line is not None:
        data["start_line"] = comment.start_line
    return data
