"""Task workspaces: a fresh directory per task with a hardened clone, removed afterwards.

The clone goes through the ``GitTransport`` (shallow, no submodules, hooks and filters off, https only, the
token only as an HTTP header for the one command). Writing tasks work on ``asynccoder/<task-id>`` (the same
name on every attempt, so a retry replaces its own earlier push) and commit as the platform identity with a
``Async-Coder-Task`` trailer. Before a push the exact change about to be committed and the message are
scanned for secrets; the token is fetched again just before the push (long tasks outlive tokens) and pushed
with a lease on what the remote branch was when the workspace opened.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from uuid import UUID

import anyio.to_thread

from asynccoder.application.ports.agent import Workspace, WorkspaceFactory
from asynccoder.application.ports.code_hosting import GitTransport
from asynccoder.application.ports.task_execution import GitCredentials, RepositoryCheckout
from asynccoder.domain.agent.secrets import describe_findings, scan_texts
from asynccoder.domain.errors import Conflict, Refused

PLATFORM_AUTHOR_NAME = "Async Coder"
PLATFORM_AUTHOR_EMAIL = "bot@asynccoder.dev"


def task_branch(task_id: UUID) -> str:
    return f"asynccoder/{task_id}"


class GitWorkspace(Workspace):
    def __init__(
        self,
        *,
        transport: GitTransport,
        root: Path,
        branch: str,
        base_ref: str,
        task_id: UUID,
        credentials: GitCredentials,
        writable: bool,
        remote_sha: str | None,
        known_secrets: Sequence[str],
        author_name: str,
        author_email: str,
    ) -> None:
        self._transport = transport
        self._root = root
        self._branch = branch
        self._base_ref = base_ref
        self._task_id = task_id
        self._credentials = credentials
        self._writable = writable
        self._remote_sha = remote_sha
        self._known = tuple(known_secrets)
        self._author = (author_name, author_email)

    @property
    def root(self) -> Path:
        return self._root

    @property
    def branch(self) -> str:
        return self._branch

    @property
    def base_ref(self) -> str:
        return self._base_ref

    async def diff(self, *, against: str | None = None) -> str:
        return await self._transport.diff(self._root, against or self._base_ref)

    async def changed_files(self) -> tuple[str, ...]:
        return await self._transport.changed_files(self._root, self._base_ref)

    async def is_file(self, path: str) -> bool:
        return await anyio.to_thread.run_sync(_is_file_inside, self._root, path)

    def commit_message(self, message: str) -> str:
        return f"{message.strip()}\n\nAsync-Coder-Task: {self._task_id}\n"

    async def commit_and_push(self, message: str) -> str:
        if not self._writable:
            raise Refused("This workspace is read-only; nothing can be pushed.", code="workspace_read_only")
        if not message.strip():
            raise Conflict("A commit message is required.", code="commit_message_required")
        full_message = self.commit_message(message)
        token = await self._credentials.token()
        # What is scanned is exactly what will be committed: the whole tree against the last pushed state.
        pending = await self._transport.diff(self._root, "HEAD")
        known = (*self._known, *([token] if token else []))
        findings = scan_texts([("diff", pending), ("commit message", full_message)], known_secrets=known)
        if findings:
            raise Refused(describe_findings(findings), code="secret_detected")
        sha = await self._transport.commit_all(
            self._root, full_message, author_name=self._author[0], author_email=self._author[1]
        )
        await self._transport.push_with_lease(
            self._root, self._branch, token=token, expected_remote_sha=self._remote_sha
        )
        self._remote_sha = sha
        return sha


def _is_file_inside(root: Path, relative: str) -> bool:
    pure = PurePosixPath(relative.replace("\\", "/"))
    if "\0" in relative or pure.is_absolute() or ".." in pure.parts or ".git" in pure.parts:
        return False
    base = root.resolve()
    try:
        target = (base / pure).resolve()
    except (RuntimeError, OSError):  # a loop of symbolic links
        return False
    inside = target.is_relative_to(base) and not target.is_relative_to(base / ".git")
    return inside and target.is_file()


class GitWorkspaceFactory(WorkspaceFactory):
    """Workspaces under ``parent`` (a private directory per task; the checkout is ``<dir>/repo``)."""

    def __init__(
        self,
        transport: GitTransport,
        *,
        parent: Path | None = None,
        author_name: str = PLATFORM_AUTHOR_NAME,
        author_email: str = PLATFORM_AUTHOR_EMAIL,
    ) -> None:
        self._transport = transport
        self._parent = parent
        self._author = (author_name, author_email)

    @asynccontextmanager
    async def open(
        self,
        *,
        task_id: UUID,
        repository: RepositoryCheckout,
        credentials: GitCredentials,
        writable: bool,
        ref: str | None = None,
        known_secrets: Sequence[str] = (),
    ) -> AsyncIterator[GitWorkspace]:
        def make_dir() -> Path:
            if self._parent is not None:
                self._parent.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=f"task-{task_id}-", dir=self._parent))

        directory = await anyio.to_thread.run_sync(make_dir)
        try:
            await anyio.to_thread.run_sync(os.chmod, directory, 0o700)
            checkout = directory / "repo"
            token = await credentials.token()
            branch_to_clone = repository.base_branch if writable else (ref or repository.base_branch)
            await self._transport.clone(repository.clone_url, checkout, branch=branch_to_clone, token=token)
            branch = task_branch(task_id) if writable else branch_to_clone
            number = repository.pull_request_number
            if not writable and ref is None and number is not None:
                await self._transport.checkout_pull_request(checkout, number, token=token)
                branch = f"pull/{number}"
            base = await self._transport.rev_parse(checkout, "HEAD")
            remote_sha: str | None = None
            if writable:
                await self._transport.create_branch(checkout, branch)
                remote_sha = await self._transport.remote_branch_head(checkout, branch, token=token)
            del token
            yield GitWorkspace(
                transport=self._transport,
                root=checkout,
                branch=branch,
                base_ref=base,
                task_id=task_id,
                credentials=credentials,
                writable=writable,
                remote_sha=remote_sha,
                known_secrets=known_secrets,
                author_name=self._author[0],
                author_email=self._author[1],
            )
        finally:
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(directory, ignore_errors=True))
