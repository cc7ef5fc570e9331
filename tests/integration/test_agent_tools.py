"""The agent's file tools on real directories: editor semantics, confinement, search and the toolbox."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asynccoder.adapters.agent_tools.editor import FileEditorTool
from asynccoder.adapters.agent_tools.paths import PathRefused, confine
from asynccoder.adapters.agent_tools.search import RipgrepSearchTool
from asynccoder.adapters.agent_tools.shell import SandboxShellTool
from asynccoder.adapters.agent_tools.toolbox import WorkspaceToolbox
from asynccoder.adapters.sandbox.bubblewrap import BubblewrapSandbox
from asynccoder.application.ports.agent import SandboxUnavailable, Workspace
from tests.support.git_repos import git
from tests.support.services import unavailable


def workspace_at(root: Path) -> Workspace:
    return cast(Workspace, SimpleNamespace(root=root, branch="asynccoder/t", base_ref="HEAD"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git("init", "--initial-branch=main", str(root), cwd=tmp_path)
    (root / "app.py").write_text("import os\n\n\ndef main():\n    print('hi')\n    return 1\n")
    (root / "src").mkdir()
    (root / "src" / "lib.py").write_text("".join(f"value_{i} = {i}\n" for i in range(1, 251)))
    (root / "src" / "deep").mkdir()
    (root / "src" / "deep" / "deeper").mkdir()
    (root / "src" / "deep" / "deeper" / "hidden_from_listing.txt").write_text("x\n")
    (root / "config.json").write_text('{"a": 1}\n')
    (root / ".env").write_text("SECRET=1\n")
    return root


async def edit(root: Path, **arguments: Any) -> tuple[str, bool]:
    result = await FileEditorTool(workspace_at(root)).run(arguments)
    return result.text, result.is_error


# --- view ---------------------------------------------------------------------------------------------


async def test_view_numbers_the_lines_of_a_small_file(repo: Path) -> None:
    text, error = await edit(repo, command="view", path="app.py")
    assert not error
    assert text.splitlines()[0] == "     1\timport os"
    assert text.splitlines()[4] == "     5\t    print('hi')"


async def test_a_big_file_opens_on_a_hundred_line_window(repo: Path) -> None:
    text, _ = await edit(repo, command="view", path="src/lib.py")
    lines = text.splitlines()
    assert lines[99] == "   100\tvalue_100 = 100"
    assert "value_101" not in text
    assert "has 250 lines; this shows 1-100" in text


async def test_view_range_shows_the_lines_asked_for_and_minus_one_means_the_end(repo: Path) -> None:
    text, _ = await edit(repo, command="view", path="src/lib.py", view_range=[240, -1])
    assert text.splitlines()[0] == "   240\tvalue_240 = 240"
    assert text.splitlines()[-1] == "   250\tvalue_250 = 250"
    text, error = await edit(repo, command="view", path="src/lib.py", view_range=[300, 310])
    assert error
    assert "lines 1-250" in text


async def test_a_directory_is_listed_two_levels_deep_without_hidden_entries(repo: Path) -> None:
    text, error = await edit(repo, command="view", path=".")
    assert not error
    assert "src/lib.py" in text
    assert "src/deep/" in text
    assert "hidden_from_listing" not in text
    assert ".env" not in text
    assert ".git" not in text


# --- create / str_replace / insert -------------------------------------------------------------------


async def test_create_makes_a_new_file_and_refuses_an_existing_one(repo: Path) -> None:
    text, error = await edit(repo, command="create", path="pkg/new.py", file_text="x = 1\n")
    assert not error, text
    assert (repo / "pkg" / "new.py").read_text() == "x = 1\n"
    text, error = await edit(repo, command="create", path="app.py", file_text="y = 2\n")
    assert error
    assert "already exists" in text
    assert (repo / "app.py").read_text().startswith("import os")


async def test_str_replace_replaces_a_unique_match_and_shows_a_numbered_snippet(repo: Path) -> None:
    text, error = await edit(
        repo, command="str_replace", path="app.py", old_str="    print('hi')", new_str="    print('hello')"
    )
    assert not error, text
    assert "print('hello')" in (repo / "app.py").read_text()
    assert "     5\t    print('hello')" in text
    assert "has been edited" in text


async def test_str_replace_with_no_match_shows_the_nearest_lines(repo: Path) -> None:
    text, error = await edit(repo, command="str_replace", path="app.py", old_str="print('hey')", new_str="x")
    assert error
    assert "No match" in text
    assert "     5\t    print('hi')" in text
    assert (repo / "app.py").read_text().count("print('hi')") == 1


async def test_str_replace_that_differs_in_whitespace_says_so(repo: Path) -> None:
    text, error = await edit(
        repo, command="str_replace", path="app.py", old_str="print('hi')\n  return 1", new_str="x"
    )
    assert error
    assert "except for whitespace" in text
    assert "Lines 5-6" in text


async def test_str_replace_with_several_matches_names_their_lines(repo: Path) -> None:
    (repo / "dup.txt").write_text("a\nb\na\nc\na\n")
    text, error = await edit(repo, command="str_replace", path="dup.txt", old_str="a", new_str="z")
    assert error
    assert "occurs 3 times" in text
    assert "lines 1, 3, 5" in text
    assert (repo / "dup.txt").read_text() == "a\nb\na\nc\na\n"


async def test_insert_after_a_line_and_at_the_top(repo: Path) -> None:
    text, error = await edit(repo, command="insert", path="app.py", insert_line=1, insert_text="import sys")
    assert not error, text
    assert (repo / "app.py").read_text().startswith("import os\nimport sys\n\n")
    _, error = await edit(repo, command="insert", path="app.py", insert_line=0, insert_text="# top")
    assert not error
    assert (repo / "app.py").read_text().startswith("# top\nimport os\n")
    text, error = await edit(repo, command="insert", path="app.py", insert_line=99, insert_text="x")
    assert error
    assert "outside the file" in text


async def test_an_edit_that_breaks_python_is_refused_with_the_syntax_error(repo: Path) -> None:
    before = (repo / "app.py").read_text()
    text, error = await edit(
        repo, command="str_replace", path="app.py", old_str="def main():", new_str="def main(:"
    )
    assert error
    assert "NOT applied" in text
    assert "line 4" in text
    assert (repo / "app.py").read_text() == before
    text, error = await edit(repo, command="create", path="broken.py", file_text="if True print(1)\n")
    assert error
    assert not (repo / "broken.py").exists()


async def test_code_that_parses_but_cannot_compile_is_refused(repo: Path) -> None:
    text, error = await edit(repo, command="insert", path="app.py", insert_line=6, insert_text="return 2")
    assert error
    assert "'return' outside function" in text
    assert "return 2" not in (repo / "app.py").read_text()


async def test_syntax_warnings_in_the_file_are_not_errors_of_the_edit(repo: Path) -> None:
    source = 'import re\nPATTERN = re.compile("\\d+")\nSAME = 1 is 1\n'
    text, error = await edit(repo, command="create", path="regex.py", file_text=source)
    assert not error, text
    assert (repo / "regex.py").read_text() == source


async def test_an_edit_that_breaks_json_is_refused(repo: Path) -> None:
    text, error = await edit(
        repo, command="str_replace", path="config.json", old_str='"a": 1', new_str='"a": '
    )
    assert error
    assert "JSON syntax error" in text
    assert json.loads((repo / "config.json").read_text()) == {"a": 1}


async def test_a_file_that_was_already_broken_can_still_be_edited(repo: Path) -> None:
    (repo / "legacy.py").write_text("print 'py2'\nx = 1\n")
    _, error = await edit(repo, command="str_replace", path="legacy.py", old_str="x = 1", new_str="x = 2")
    assert not error


async def test_the_read_only_variant_only_views(repo: Path) -> None:
    tool = FileEditorTool(workspace_at(repo), read_only=True)
    assert tool.definition.name == "view"
    viewed = await tool.run({"path": "app.py"})
    assert not viewed.is_error
    refused = await tool.run({"command": "create", "path": "x.py", "file_text": "x = 1\n"})
    assert refused.is_error
    assert "read-only" in refused.text
    assert not (repo / "x.py").exists()


# --- confinement ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "src/../../outside.txt",
        "/etc/passwd",
        "~/.ssh/id_rsa",
        ".git/config",
        "src/../.git/HEAD",
    ],
)
async def test_paths_outside_the_workspace_are_refused(repo: Path, path: str) -> None:
    (repo.parent / "outside.txt").write_text("host\n")
    for arguments in (
        {"command": "view", "path": path},
        {"command": "create", "path": path, "file_text": "x"},
        {"command": "str_replace", "path": path, "old_str": "host", "new_str": "pwned"},
    ):
        text, error = await edit(repo, **arguments)
        assert error
        assert str(repo) not in text
    assert (repo.parent / "outside.txt").read_text() == "host\n"


async def test_a_symlink_pointing_outside_is_refused_for_reading_and_writing(repo: Path) -> None:
    outside = repo.parent / "secret.txt"
    outside.write_text("secret\n")
    (repo / "link.txt").symlink_to(outside)
    (repo / "linkdir").symlink_to(repo.parent)
    (repo / "gitlink").symlink_to(repo / ".git")
    for path in ("link.txt", "linkdir/secret.txt", "gitlink/config"):
        text, error = await edit(repo, command="view", path=path)
        assert error, path
        assert "secret" not in text.replace("secret.txt", "")
    _, error = await edit(repo, command="str_replace", path="link.txt", old_str="secret", new_str="pwned")
    assert error
    _, error = await edit(repo, command="create", path="linkdir/new.txt", file_text="pwned")
    assert error
    assert outside.read_text() == "secret\n"
    assert not (repo.parent / "new.txt").exists()


async def test_symlink_loops_and_unreadable_paths_are_errors_not_exceptions(repo: Path) -> None:
    (repo / "loop_a").symlink_to(repo / "loop_b")
    (repo / "loop_b").symlink_to(repo / "loop_a")
    text, error = await edit(repo, command="view", path="loop_a/x")
    assert error
    assert str(repo) not in text
    text, error = await edit(repo, command="create", path="app.py/child.py", file_text="x = 1\n")
    assert error
    assert str(repo) not in text
    text, error = await edit(repo, command="create", path="n" * 300 + ".py", file_text="x = 1\n")
    assert error
    assert str(repo) not in text


async def test_the_sandbox_path_of_a_file_is_accepted(repo: Path) -> None:
    text, error = await edit(repo, command="view", path="/workspace/app.py")
    assert not error
    assert "import os" in text


# --- search ---------------------------------------------------------------------------------------------


async def search(root: Path, **arguments: Any) -> tuple[str, bool]:
    result = await RipgrepSearchTool(workspace_at(root)).run(arguments)
    return result.text, result.is_error


async def test_search_finds_lines_with_paths_and_numbers(repo: Path) -> None:
    text, error = await search(repo, pattern=r"print\(")
    assert not error
    assert text == "1 matches for 'print\\\\(':\napp.py:5:     print('hi')"


async def test_search_caps_results_at_fifty_and_asks_to_narrow(repo: Path) -> None:
    text, _ = await search(repo, pattern="value_")
    lines = text.splitlines()
    assert lines[0] == "250 matches for 'value_'; the first 50 are shown:"
    assert len([ln for ln in lines if ln.startswith("src/lib.py:")]) == 50
    assert "narrow your query" in text


async def test_search_with_a_glob_and_a_path(repo: Path) -> None:
    text, _ = await search(repo, pattern="1", glob="*.json")
    assert text.splitlines()[1:] == ['config.json:1: {"a": 1}']
    text, _ = await search(repo, pattern="value_7\\b", path="src")
    assert "src/lib.py:7: value_7 = 7" in text


async def test_search_never_looks_into_git_or_outside(repo: Path) -> None:
    (repo.parent / "outside.txt").write_text("needle\n")
    (repo / "out").symlink_to(repo.parent)
    (repo / ".git" / "needle").write_text("needle\n")
    text, _ = await search(repo, pattern="needle")
    assert text == "No matches for 'needle'."
    text, error = await search(repo, pattern="needle", path="../")
    assert error


async def test_search_reports_a_bad_pattern_without_host_paths(repo: Path) -> None:
    text, error = await search(repo, pattern="(unclosed")
    assert error
    assert "regex" in text.lower()
    assert str(repo) not in text


async def test_search_results_are_the_same_bytes_every_time(repo: Path) -> None:
    for index in range(30):
        (repo / f"f{index:02}.txt").write_text("same needle\n")
    first, _ = await search(repo, pattern="needle")
    second, _ = await search(repo, pattern="needle")
    assert first == second
    assert first.splitlines()[1].startswith("f00.txt:1:")


# --- toolbox ----------------------------------------------------------------------------------------


async def test_the_toolbox_offers_sorted_stable_tools_per_mode(repo: Path) -> None:
    sandbox = BubblewrapSandbox()
    if not await sandbox.available():
        unavailable("bubblewrap", "bwrap missing or user namespaces blocked")
    toolbox = await WorkspaceToolbox.probing(sandbox)
    ws = workspace_at(repo)
    writing = toolbox.tools_for(ws, read_only=False, shell=True)
    assert [t.definition.name for t in writing] == ["edit", "search", "shell"]
    assert [t.definition.name for t in toolbox.tools_for(ws, read_only=True, shell=False)] == [
        "search",
        "view",
    ]
    again = toolbox.tools_for(ws, read_only=False, shell=True)
    assert [json.dumps(t.definition.input_schema) for t in writing] == [
        json.dumps(t.definition.input_schema) for t in again
    ]
    shell = next(t for t in writing if t.definition.name == "shell")
    result = await shell.run({"command": "echo hi > made.txt; cat app.py | head -1"})
    assert result.text == "exit code 0\nimport os\n"
    assert (repo / "made.txt").exists()


async def test_without_a_sandbox_the_shell_is_never_offered(repo: Path) -> None:
    toolbox = await WorkspaceToolbox.probing(BubblewrapSandbox(bwrap=str(repo / "missing-bwrap")))
    assert not toolbox.shell_available
    names = [t.definition.name for t in toolbox.tools_for(workspace_at(repo), read_only=False, shell=True)]
    assert names == ["edit", "search"]


async def test_shell_arguments_are_checked_before_anything_runs(repo: Path) -> None:
    tool = SandboxShellTool(workspace_at(repo), BubblewrapSandbox(bwrap=str(repo / "missing-bwrap")))
    bad: list[dict[str, Any]] = [
        {},
        {"command": ""},
        {"command": "ls", "timeout_seconds": 0},
        {"command": "ls", "timeout_seconds": True},
    ]
    for arguments in bad:
        result = await tool.run(arguments)
        assert result.is_error
    with pytest.raises(SandboxUnavailable):
        await tool.run({"command": "touch ran-on-host"})
    assert not (repo / "ran-on-host").exists()


def test_tool_schemas_are_canonically_ordered(repo: Path) -> None:
    toolbox = WorkspaceToolbox(None)
    for read_only in (True, False):
        for tool in toolbox.tools_for(workspace_at(repo), read_only=read_only, shell=False):
            schema = tool.definition.input_schema
            assert json.dumps(schema) == json.dumps(schema, sort_keys=True)


path_parts = st.sampled_from(
    ["a", "src", "..", ".", ".git", "out", "in", "/", "//", "~", "/workspace", "x.py"]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(path_parts, min_size=1, max_size=6))
def test_no_path_whatever_its_shape_resolves_outside_the_workspace_or_into_git(
    repo: Path, parts: list[str]
) -> None:
    if not (repo / "out").is_symlink():
        (repo / "out").symlink_to(repo.parent)
        (repo / "in").symlink_to(repo / "src")
    raw = "/".join(parts)
    try:
        confined = confine(repo, raw)
    except PathRefused:
        return
    base = repo.resolve()
    assert confined.absolute == base or base in confined.absolute.parents
    assert base / ".git" != confined.absolute
    assert base / ".git" not in confined.absolute.parents
