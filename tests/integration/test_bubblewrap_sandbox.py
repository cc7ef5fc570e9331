"""The bubblewrap sandbox on this machine: isolation, limits and killing of whole process trees."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from asynccoder.adapters.sandbox.bubblewrap import BubblewrapSandbox, SandboxLimits
from asynccoder.application.ports.agent import SandboxUnavailable
from tests.support.git_repos import git
from tests.support.services import unavailable

# A process that ignores SIGTERM and lives long; its marker argument finds it in the host's /proc.
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(300)\n"
SMALL = SandboxLimits(max_processes=40, max_memory_bytes=512 * 1024**2, max_file_bytes=4 * 1024**2)


@pytest.fixture
async def sandbox() -> BubblewrapSandbox:
    box = BubblewrapSandbox(limits=SMALL)
    if not await box.available():
        unavailable("bubblewrap", "bwrap missing or user namespaces blocked")
    return box


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    git("init", "--initial-branch=main", str(root), cwd=tmp_path)
    (root / "app.py").write_text("print('hi')\n")
    return root


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def wait_until_gone(marker: str, deadline_seconds: float = 10.0) -> list[int]:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_seconds
    while (left := processes_with(marker)) and loop.time() < end:
        await asyncio.sleep(0.05)
    return left


@pytest.fixture
def listening_port() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


async def test_a_command_runs_in_the_workspace_and_reports_its_exit_code(
    sandbox: BubblewrapSandbox, workspace: Path
) -> None:
    result = await sandbox.run(
        "pwd; cat app.py; echo new > made.txt; exit 3", workdir=workspace, timeout_seconds=30
    )
    assert result.exit_code == 3
    assert result.output == "/workspace\nprint('hi')\n"
    assert (workspace / "made.txt").read_text() == "new\n"
    assert not result.timed_out


async def test_there_is_no_network(sandbox: BubblewrapSandbox, workspace: Path, listening_port: int) -> None:
    connect = f"import socket; socket.create_connection(('127.0.0.1', {listening_port}), timeout=3)"
    probe = f"python3 -c \"{connect}; print('connected')\""
    with socket.create_connection(("127.0.0.1", listening_port), timeout=3):
        pass  # the server is reachable from the host
    result = await sandbox.run(probe, workdir=workspace, timeout_seconds=30)
    assert result.exit_code != 0
    assert "connected" not in result.output
    assert "Connection refused" in result.output or "unreachable" in result.output


async def test_the_parent_environment_and_its_secrets_are_not_visible(
    sandbox: BubblewrapSandbox, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNCCODER_CANARY_SECRET", "canary-value-123")
    result = await sandbox.run(
        "env; cat /proc/1/environ | tr '\\0' '\\n'", workdir=workspace, timeout_seconds=30
    )
    assert "canary-value-123" not in result.output
    names = sorted(line.split("=", 1)[0] for line in result.output.splitlines() if "=" in line)
    assert set(names) <= {"PATH", "HOME", "LANG", "TMPDIR", "PWD", "SHLVL", "OLDPWD", "_"}


async def test_nothing_outside_the_workspace_can_be_written_and_git_is_read_only(
    sandbox: BubblewrapSandbox, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("host file\n")
    config_before = (workspace / ".git" / "config").read_text()
    script = "; ".join(
        [
            "echo x > /usr/pwned 2>/dev/null && echo WROTE-usr",
            "echo x > /etc/pwned 2>/dev/null && echo WROTE-etc",
            f"echo x > {outside} 2>/dev/null && echo WROTE-outside",
            f"cat {outside} 2>/dev/null && echo READ-outside",
            "echo x >> .git/config 2>/dev/null && echo WROTE-git",
            "mkdir .git/hooks/x 2>/dev/null && echo WROTE-git-dir",
            "rm -rf .git 2>/dev/null; test -f .git/config && echo GIT-STILL-THERE",
            "echo tmp > /tmp/t && cat /tmp/t",
        ]
    )
    result = await sandbox.run(script, workdir=workspace, timeout_seconds=30)
    assert "WROTE" not in result.output
    assert "READ-outside" not in result.output
    assert "GIT-STILL-THERE" in result.output
    assert "tmp" in result.output
    assert outside.read_text() == "host file\n"
    assert (workspace / ".git" / "config").read_text() == config_before
    assert not Path("/usr/pwned").exists()


async def test_a_fork_bomb_is_contained(sandbox: BubblewrapSandbox, workspace: Path) -> None:
    bomb = (
        'python3 -c "\nimport os, time\nn = 0\ntry:\n    for _ in range(2000):\n'
        "        if os.fork() == 0:\n            time.sleep(5); os._exit(0)\n        n += 1\n"
        "except OSError:\n    print('fork refused after', n)\nelse:\n    print('forked all', n)\n\""
    )
    result = await sandbox.run(bomb, workdir=workspace, timeout_seconds=30)
    assert "fork refused after" in result.output
    refused_after = int(result.output.split("fork refused after")[1].split()[0])
    assert refused_after < SMALL.max_processes


async def test_a_memory_hog_is_refused_its_memory(sandbox: BubblewrapSandbox, workspace: Path) -> None:
    result = await sandbox.run(
        "python3 -c 'x = bytearray(2 * 1024 ** 3); print(\"allocated\")'",
        workdir=workspace,
        timeout_seconds=30,
    )
    assert result.exit_code != 0
    assert "MemoryError" in result.output
    assert "allocated" not in result.output


async def test_a_huge_file_is_cut_at_the_file_size_limit(sandbox: BubblewrapSandbox, workspace: Path) -> None:
    result = await sandbox.run("head -c 50000000 /dev/zero > big.bin", workdir=workspace, timeout_seconds=30)
    assert result.exit_code != 0
    assert (workspace / "big.bin").stat().st_size <= SMALL.max_file_bytes


async def test_a_timeout_kills_the_whole_process_tree_even_a_child_ignoring_sigterm(
    sandbox: BubblewrapSandbox, workspace: Path
) -> None:
    marker = f"sandbox-marker-{os.getpid()}-timeout"
    (workspace / "stubborn.py").write_text(STUBBORN)
    command = f"python3 stubborn.py {marker} & sh -c 'python3 stubborn.py {marker}' & echo started; wait"
    result = await sandbox.run(command, workdir=workspace, timeout_seconds=1.5)
    assert result.timed_out
    assert result.exit_code is None
    assert "started" in result.output
    assert await wait_until_gone(marker) == []


async def test_cancelling_a_run_kills_its_process_tree(sandbox: BubblewrapSandbox, workspace: Path) -> None:
    marker = f"sandbox-marker-{os.getpid()}-cancel"
    (workspace / "stubborn.py").write_text(STUBBORN)
    run = asyncio.create_task(
        sandbox.run(f"python3 stubborn.py {marker} & wait", workdir=workspace, timeout_seconds=120)
    )
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while not processes_with(marker) and loop.time() < end:
        await asyncio.sleep(0.05)
    assert processes_with(marker)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert await wait_until_gone(marker) == []


async def test_long_output_is_truncated_deterministically(
    sandbox: BubblewrapSandbox, workspace: Path
) -> None:
    command = "seq 1 20000"
    first = await sandbox.run(command, workdir=workspace, timeout_seconds=30)
    second = await sandbox.run(command, workdir=workspace, timeout_seconds=30)
    assert first.truncated
    assert first.output == second.output
    assert first.output.startswith("1\n2\n3\n")
    assert first.output.endswith("19999\n20000\n")
    assert "characters elided" in first.output


async def test_a_missing_bwrap_means_no_sandbox_and_commands_are_refused(workspace: Path) -> None:
    box = BubblewrapSandbox(bwrap=str(workspace / "no-such-bwrap"))
    assert await box.available() is False
    with pytest.raises(SandboxUnavailable):
        await box.run("touch ran-on-host", workdir=workspace, timeout_seconds=5)
    assert not (workspace / "ran-on-host").exists()


async def test_a_gitfile_is_read_only_too(sandbox: BubblewrapSandbox, tmp_path: Path) -> None:
    root = tmp_path / "linked"
    root.mkdir()
    (root / ".git").write_text("gitdir: /somewhere/else\n")
    result = await sandbox.run("echo 'gitdir: /tmp/evil' > .git; cat .git", workdir=root, timeout_seconds=30)
    assert "gitdir: /somewhere/else" in result.output
    assert (root / ".git").read_text() == "gitdir: /somewhere/else\n"


async def test_as_root_without_a_pids_cgroup_there_is_no_sandbox(workspace: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("RLIMIT_NPROC binds non-root workers; the cgroup is only needed for root")
    box = BubblewrapSandbox(use_pids_cgroup=False)
    assert await box.available() is False
