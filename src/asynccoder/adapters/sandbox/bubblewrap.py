"""The ``Sandbox`` port on bubblewrap: one fresh, isolated process tree per command.

Inside: no network (a fresh network namespace with only its own loopback), new PID/IPC/UTS namespaces, the
system (``/usr`` and the merged-usr links, a few files of ``/etc``) read-only, a fresh ``/proc``, ``/dev`` and
``/tmp``, the workspace at ``/workspace`` writable with its ``.git`` bound read-only over it, and an
environment of ``PATH``, ``HOME``, ``LANG`` and ``TMPDIR`` only. Resource limits are set by ``prlimit``
(processes, address space, file size, CPU time, open files, no core dumps) and, where a pids cgroup can be
created (a root worker, where RLIMIT_NPROC does not apply), by ``pids.max``. The launcher runs in its own
session: on timeout, cancellation or too much output the whole group is killed, and bubblewrap's
``--die-with-parent`` plus the PID namespace take every process of the sandbox with it.

``HOME`` is ``/tmp`` (a tmpfs), not the workspace, so caches and dotfiles a command writes never end up in
the task's diff.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import math
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asynccoder.application.ports.agent import CommandResult, Sandbox, SandboxUnavailable
from asynccoder.domain.agent.truncation import HEAD_CHARS, TAIL_CHARS, HeadTailBuffer

MOUNT_POINT = "/workspace"
_PATH = "/usr/local/bin:/usr/bin:/bin"
_TMP = "/tmp"  # noqa: S108 - the sandbox's own tmpfs, not the host's
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_ENTRIES = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "group",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "passwd",
    "ssl",
)


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    max_processes: int = 256
    max_memory_bytes: int = 4 * 1024**3  # address space per process
    max_file_bytes: int = 512 * 1024**2
    max_open_files: int = 1024
    max_output_bytes: int = 32 * 1024**2  # more than this and the command is killed
    output_head_chars: int = HEAD_CHARS
    output_tail_chars: int = TAIL_CHARS


class _PidsCgroup:
    """A throw-away pids cgroup (v1 ``/sys/fs/cgroup/pids`` or v2 with the pids controller), if allowed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def find_root() -> Path | None:
        v1 = Path("/sys/fs/cgroup/pids")
        if (v1 / "cgroup.procs").is_file() and os.access(v1, os.W_OK):
            return v1
        v2 = Path("/sys/fs/cgroup")
        try:
            controllers = (v2 / "cgroup.controllers").read_text().split()
            enabled = (v2 / "cgroup.subtree_control").read_text().split()
        except OSError:
            return None
        if "pids" in controllers and "pids" in enabled and os.access(v2, os.W_OK):
            return v2
        return None

    @classmethod
    def create(cls, root: Path, max_processes: int) -> _PidsCgroup | None:
        path = root / f"asynccoder-sandbox-{secrets.token_hex(8)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_processes))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path)

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    async def remove(self, deadline_seconds: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_seconds
        while True:
            self.kill_all()
            try:
                self.path.rmdir()
                return
            except OSError:
                if loop.time() >= end:
                    return  # left behind empty-able; harmless, and nothing can run in it any more
            await asyncio.sleep(0.02)


class BubblewrapSandbox(Sandbox):
    """Runs commands under ``bwrap``; ``available()`` probes once whether a full sandbox can be had.

    A root worker without a usable pids cgroup has no process limit, so it has no sandbox either, unless
    ``require_process_limit`` is turned off.
    """

    def __init__(
        self,
        *,
        bwrap: str = "bwrap",
        prlimit: str = "prlimit",
        limits: SandboxLimits | None = None,
        use_pids_cgroup: bool = True,
        require_process_limit: bool = True,
    ) -> None:
        self._bwrap = shutil.which(bwrap)
        self._prlimit = shutil.which(prlimit)
        self._limits = limits or SandboxLimits()
        self._cgroup_root = _PidsCgroup.find_root() if use_pids_cgroup else None
        self._require_process_limit = require_process_limit
        self._available: bool | None = None
        self._probe_lock = asyncio.Lock()

    async def available(self) -> bool:
        if self._available is None:
            async with self._probe_lock:
                if self._available is None:
                    self._available = await self._probe()
        return self._available

    async def _probe(self) -> bool:
        if self._bwrap is None or self._prlimit is None:
            return False
        if self._require_process_limit and os.geteuid() == 0 and self._cgroup_root is None:
            return False  # RLIMIT_NPROC does not bind root: without a pids cgroup a fork bomb is unchecked
        with tempfile.TemporaryDirectory(prefix="asynccoder-probe-") as scratch:
            try:
                result = await self._execute("exit 0", Path(scratch), 30.0)
            except OSError:
                return False
        return result.exit_code == 0 and not result.timed_out

    async def run(self, command: str, *, workdir: Path, timeout_seconds: float) -> CommandResult:
        if not await self.available():
            raise SandboxUnavailable("No sandbox is available on this host; commands are not run.")
        root = workdir.resolve()  # noqa: ASYNC240 - a couple of stats of a local directory
        if not root.is_dir():
            raise ValueError("the workdir must be an existing directory")
        return await self._execute(command, root, timeout_seconds)

    # --- building the command line -------------------------------------------------------------------------

    def _bwrap_args(self, workdir: Path) -> list[str]:
        assert self._bwrap is not None
        args = [
            self._bwrap,
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--setenv", "PATH", _PATH,
            "--setenv", "HOME", _TMP,
            "--setenv", "TMPDIR", _TMP,
            "--setenv", "LANG", "C.UTF-8",
            "--hostname", "sandbox",
        ]  # fmt: skip
        if os.geteuid() == 0:
            args += ["--cap-drop", "ALL"]
        for directory in _SYSTEM_DIRS:
            path = Path(directory)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), directory]
            elif path.is_dir():
                args += ["--ro-bind", directory, directory]
        for entry in _ETC_ENTRIES:
            path = Path("/etc") / entry
            if path.exists():
                args += ["--ro-bind", str(path), str(path)]
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", _TMP]
        args += ["--bind", str(workdir), MOUNT_POINT]
        git_dir = workdir / ".git"
        if git_dir.is_symlink():
            # The host's git would follow it wherever a command pointed it; never hand such a tree over.
            raise ValueError("the workdir's .git must not be a symbolic link")
        if git_dir.exists():  # a directory, or a gitfile of a linked worktree: read-only either way
            args += ["--ro-bind", str(git_dir), f"{MOUNT_POINT}/.git"]
        # The root itself (where bwrap made /etc and the mount points) is read-only too.
        args += ["--remount-ro", "/", "--chdir", MOUNT_POINT]
        return args

    def _limit_args(self, timeout_seconds: float) -> list[str]:
        assert self._prlimit is not None
        limits = self._limits
        cpu = max(1, math.ceil(timeout_seconds) + 5)
        return [
            self._prlimit,
            f"--nproc={limits.max_processes}",
            f"--as={limits.max_memory_bytes}",
            f"--fsize={limits.max_file_bytes}",
            f"--nofile={limits.max_open_files}",
            f"--cpu={cpu}",
            "--core=0",
            "--",
        ]

    # --- running ---------------------------------------------------------------------------------------

    async def _execute(self, command: str, workdir: Path, timeout_seconds: float) -> CommandResult:
        argv: Sequence[str] = [
            *self._bwrap_args(workdir),
            *self._limit_args(timeout_seconds),
            "/bin/sh",
            "-c",
            command,
        ]
        cgroup = (
            _PidsCgroup.create(self._cgroup_root, self._limits.max_processes)
            if self._cgroup_root is not None
            else None
        )
        if cgroup is not None:
            # The launcher joins the cgroup and only then becomes bwrap: every descendant is counted.
            argv = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(cgroup.path), *argv]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env={"PATH": _PATH, "LANG": "C.UTF-8"},
                start_new_session=True,
            )
        except BaseException:
            if cgroup is not None:
                await cgroup.remove()
            raise
        buffer = HeadTailBuffer(head=self._limits.output_head_chars, tail=self._limits.output_tail_chars)
        over_limit = False

        async def pump() -> None:
            nonlocal over_limit
            assert process.stdout is not None
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            seen = 0
            while chunk := await process.stdout.read(65536):
                seen += len(chunk)
                if seen > self._limits.max_output_bytes:
                    over_limit = True
                    self._kill(process, cgroup)
                    break
                buffer.feed(decoder.decode(chunk))
            buffer.feed(decoder.decode(b"", final=True))
            await process.wait()

        timed_out = False
        try:
            try:
                await asyncio.wait_for(pump(), timeout_seconds)
            except TimeoutError:
                timed_out = True
        finally:
            # Also on cancellation: nothing started by the command outlives this call.
            if process.returncode is None:
                self._kill(process, cgroup)
                with contextlib.suppress(ProcessLookupError):
                    await asyncio.shield(process.wait())
            if cgroup is not None:
                await asyncio.shield(cgroup.remove())
        output = buffer.result()
        text = output.text
        if over_limit:
            text += f"\n[the command was killed: it wrote more than {self._limits.max_output_bytes:,} bytes]"
        killed = timed_out or over_limit or (process.returncode is not None and process.returncode < 0)
        return CommandResult(
            exit_code=None if killed else process.returncode,
            output=text,
            timed_out=timed_out,
            truncated=output.truncated or over_limit,
        )

    @staticmethod
    def _kill(process: asyncio.subprocess.Process, cgroup: _PidsCgroup | None) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if cgroup is not None:
            cgroup.kill_all()
