"""Git transport through the git CLI, hardened for untrusted repositories.

Every git process gets its configuration from ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``
environment variables, never from argv or files: the token travels as an ``http.extraHeader`` for the one
command that needs it, so it is never in ``.git/config``, in ``ps`` output, in logs or in error messages.
System and global configuration are ignored, hooks point at ``/dev/null``, submodules are never fetched,
only https is allowed (plus ``file`` for local repositories in development mode), prompts are disabled and
each command has a timeout.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio

from asynccoder.application.ports.code_hosting import GitTransport
from asynccoder.domain.code_hosting import validate_branch_name, validate_repository_url
from asynccoder.domain.errors import Conflict, Unavailable

_SAFE_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.askPass", ""),
    ("credential.helper", ""),
    ("protocol.allow", "never"),
    ("protocol.https.allow", "always"),
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("push.recurseSubmodules", "no"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("advice.detachedHead", "false"),
    ("init.defaultBranch", "main"),
    ("http.followRedirects", "false"),
    # No attributes from outside the repository; clean/smudge/process filters and textconv drivers exist only
    # in configuration, which comes from nowhere but here (system and global files are ignored).
    ("core.attributesFile", "/dev/null"),
    # A repository nested in the work tree (a submodule, or one a sandboxed command created) brings its own
    # config; git would run ``git status`` inside it, and with it that config's filters and fsmonitor.
    ("diff.ignoreSubmodules", "all"),
    ("status.submoduleSummary", "false"),
)


def basic_auth_header(token: str) -> str:
    """The header GitHub accepts for git over https with an OAuth/installation token."""
    encoded = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return f"Authorization: Basic {encoded}"


class GitCliTransport(GitTransport):
    """Runs ``git`` as a child process per operation.

    ``allowed_hosts`` are the https hosts repositories may live on (github.com or the Enterprise host, as
    ``host`` or ``host:port``); ``allow_local_paths`` (development only) also allows absolute local paths,
    cloned over the ``file`` protocol. ``ca_bundle`` trusts an extra certificate authority (Enterprise).
    """

    def __init__(
        self,
        *,
        allowed_hosts: frozenset[str],
        allow_local_paths: bool = False,
        timeout_seconds: float = 300.0,
        ca_bundle: Path | None = None,
        git_binary: str = "git",
    ) -> None:
        self._hosts = allowed_hosts
        self._allow_local = allow_local_paths
        self._timeout = timeout_seconds
        self._ca_bundle = ca_bundle
        self._git = git_binary

    def environment(self, token: str | None, extra: Mapping[str, str]) -> dict[str, str]:
        config = list(_SAFE_CONFIG)
        if self._allow_local:
            config.append(("protocol.file.allow", "always"))
        if self._ca_bundle is not None:
            config.append(("http.sslCAInfo", str(self._ca_bundle)))
        if token:
            config.append(("http.extraHeader", basic_auth_header(token)))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": "/nonexistent",
            "LANG": "C",
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_LFS_SKIP_SMUDGE": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_CONFIG_COUNT": str(len(config)),
        }
        for index, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        env.update(dict(extra))
        return env

    async def _run(
        self,
        verb: str,
        args: Sequence[str],
        *,
        cwd: Path | None,
        token: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> str:
        command = [self._git, *args]
        try:
            with anyio.fail_after(self._timeout):
                result = await anyio.run_process(
                    command,
                    cwd=cwd,
                    env=self.environment(token, env or {}),
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
        except TimeoutError:
            raise Unavailable(f"git {verb} timed out.", code="git_timeout") from None
        except OSError:
            raise Unavailable(f"git {verb} could not be started.", code="git_failed") from None
        if result.returncode != 0:
            # stderr is deliberately not included: it can echo URLs and headers.
            raise Unavailable(f"git {verb} failed (exit status {result.returncode}).", code="git_failed")
        return result.stdout.decode("utf-8", "replace")

    def _source(self, url: str) -> str:
        checked = validate_repository_url(url, allowed_hosts=self._hosts, allow_local_paths=self._allow_local)
        if checked.startswith("/"):
            return Path(checked).as_uri()  # file:// so that --depth applies to local clones too
        return checked

    async def clone(self, url: str, destination: Path, *, branch: str | None, token: str | None) -> None:
        args = ["clone", "--depth", "1", "--no-recurse-submodules", "--no-tags"]
        if branch is not None:
            args += ["--single-branch", "--branch", validate_branch_name(branch)]
        args += ["--", self._source(url), str(destination)]
        await self._run("clone", args, cwd=None, token=token)

    async def create_branch(self, workdir: Path, branch: str) -> None:
        await self._run("checkout", ["checkout", "-b", validate_branch_name(branch)], cwd=workdir)

    async def commit_all(self, workdir: Path, message: str, *, author_name: str, author_email: str) -> str:
        await self._run("add", ["add", "--all"], cwd=workdir)
        status = await self._run("status", ["status", "--porcelain", "--ignore-submodules=all"], cwd=workdir)
        if not status.strip():
            raise Conflict("There is nothing to commit.", code="nothing_to_commit")
        identity = {
            "GIT_AUTHOR_NAME": author_name,
            "GIT_AUTHOR_EMAIL": author_email,
            "GIT_COMMITTER_NAME": author_name,
            "GIT_COMMITTER_EMAIL": author_email,
        }
        await self._run(
            "commit", ["commit", "--no-verify", "--quiet", "-m", message], cwd=workdir, env=identity
        )
        return (await self._run("rev-parse", ["rev-parse", "HEAD"], cwd=workdir)).strip()

    async def rev_parse(self, workdir: Path, ref: str) -> str:
        if ref.startswith("-"):
            raise Unavailable("git rev-parse failed (bad revision).", code="git_failed")
        return (await self._run("rev-parse", ["rev-parse", "--verify", "--quiet", ref], cwd=workdir)).strip()

    async def remote_branch_head(self, workdir: Path, branch: str, *, token: str | None) -> str | None:
        name = validate_branch_name(branch)
        out = await self._run(
            "ls-remote", ["ls-remote", "--heads", "origin", f"refs/heads/{name}"], cwd=workdir, token=token
        )
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{name}":
                return sha
        return None

    async def push_with_lease(
        self, workdir: Path, branch: str, *, token: str | None, expected_remote_sha: str | None
    ) -> None:
        name = validate_branch_name(branch)
        lease = f"--force-with-lease=refs/heads/{name}:{expected_remote_sha or ''}"
        await self._run(
            "push",
            ["push", "--no-verify", "--porcelain", lease, "origin", f"HEAD:refs/heads/{name}"],
            cwd=workdir,
            token=token,
        )

    async def checkout_pull_request(self, workdir: Path, number: int, *, token: str | None) -> None:
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise Unavailable("git fetch failed (bad pull request number).", code="git_failed")
        local = f"refs/remotes/origin/pull/{number}"
        await self._run(
            "fetch",
            ["fetch", "--depth", "1", "--no-tags", "--no-recurse-submodules", "origin",
             f"+refs/pull/{number}/head:{local}"],
            cwd=workdir,
            token=token,
        )  # fmt: skip
        await self._run("checkout", ["checkout", "--quiet", "--detach", local], cwd=workdir)

    async def _with_scratch_index(self, workdir: Path, args: Sequence[str], verb: str) -> str:
        """Runs ``args`` against a throw-away index holding the whole working tree (untracked files too)."""
        with tempfile.TemporaryDirectory(prefix="asynccoder-index-") as scratch:
            index = Path(scratch) / "index"
            real = workdir / ".git" / "index"
            if real.is_file():
                shutil.copyfile(real, index)
            env = {"GIT_INDEX_FILE": str(index)}
            await self._run("add", ["add", "--all"], cwd=workdir, env=env)
            return await self._run(verb, list(args), cwd=workdir, env=env)

    async def diff(self, workdir: Path, against: str) -> str:
        base = await self.rev_parse(workdir, against)
        return await self._with_scratch_index(
            workdir,
            [
                "diff",
                "--cached",
                "--no-color",
                "--no-ext-diff",
                "--no-textconv",
                "--ignore-submodules=all",
                "-M",
                base,
            ],
            "diff",
        )

    async def changed_files(self, workdir: Path, against: str) -> tuple[str, ...]:
        base = await self.rev_parse(workdir, against)
        out = await self._with_scratch_index(
            workdir, ["diff", "--cached", "--name-only", "--ignore-submodules=all", "-z", base], "diff"
        )
        return tuple(sorted(name for name in out.split("\0") if name))

    async def push(self, workdir: Path, branch: str, *, token: str | None) -> None:
        name = validate_branch_name(branch)
        await self._run(
            "push",
            ["push", "--no-verify", "--porcelain", "origin", f"HEAD:refs/heads/{name}"],
            cwd=workdir,
            token=token,
        )
