"""Pure rules of the agent: stuck detection, the review diff's numbered hunks and commentable lines, the
docs-only rule, the submit and report_finding tools' validation."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from asynccoder.application.agent.loop import normalise_path, summarise_arguments
from asynccoder.application.agent.modes import FindingsTool, SubmitTool, is_doc_path
from asynccoder.domain.agent.diffs import (
    FileStatus,
    commentable_lines,
    pack_files,
    parse_unified_diff,
    render_file,
)
from asynccoder.domain.agent.stuck import Step, stuck_reason
from asynccoder.domain.tasks import TaskMode

DIFF = (
    "diff --git a/app.py b/app.py\n"
    "index 1..2 100644\n"
    "--- a/app.py\n"
    "+++ b/app.py\n"
    "@@ -1,4 +1,5 @@\n"
    " import os\n"
    "-print('hi')\n"
    "+def main() -> None:\n"
    "+    print('hello')\n"
    " \n"
    " x = 1\n"
    "@@ -20,2 +21,3 @@ def tail():\n"
    " a = 1\n"
    "+b = 2\n"
    " c = 3\n"
    "diff --git a/old.txt b/old.txt\n"
    "deleted file mode 100644\n"
    "--- a/old.txt\n"
    "+++ /dev/null\n"
    "@@ -1 +0,0 @@\n"
    "-gone\n"
)


def step(action: str, result: str = "r", failed: bool = False) -> Step:
    return Step.of("shell", {"command": action}, result, failed=failed)


def test_four_identical_action_result_pairs_are_stuck_and_three_are_not() -> None:
    assert stuck_reason([step("ls")] * 3) is None
    assert stuck_reason([step("ls")] * 4) is not None


def test_two_action_result_pairs_alternating_over_six_steps_are_stuck() -> None:
    a, b = step("cat a.py"), step("cat b.py")
    assert stuck_reason([a, b, a, b, a]) is None
    assert stuck_reason([a, b, a, b, a, b]) is not None
    assert stuck_reason([step("ls"), b, a, b, a, b, a]) is not None


def test_alternating_actions_whose_results_change_are_progress() -> None:
    runs = [
        step("pytest", f"{n} failed") if i % 2 else step("edit app.py") for i, n in enumerate(range(6, 0, -1))
    ]
    assert stuck_reason(runs) is None
    a, b, c = step("cat a.py"), step("cat b.py"), step("cat c.py")
    assert stuck_reason([a, b, a, c, a, b]) is None


def test_the_same_action_with_a_different_result_is_progress() -> None:
    assert stuck_reason([step("ls", "a"), step("ls", "b"), step("ls", "c"), step("ls", "d")]) is None


def test_three_identical_failing_actions_are_stuck_even_with_different_errors() -> None:
    failing = [step("make", f"error {i}", failed=True) for i in range(3)]
    assert stuck_reason(failing) == "the same action failed 3 times in a row"
    assert stuck_reason([*failing[:2], step("make", "ok")]) is None


def test_argument_order_does_not_change_the_action() -> None:
    one = Step.of("edit", {"a": 1, "b": 2}, "r", failed=False)
    two = Step.of("edit", {"b": 2, "a": 1}, "r", failed=False)
    assert one.action == two.action


def test_hunks_are_numbered_on_the_new_side_and_commentable_lines_are_the_hunks_new_lines() -> None:
    files = {f.path: f for f in parse_unified_diff(DIFF)}

    app = files["app.py"]
    assert commentable_lines(app).right == frozenset({1, 2, 3, 4, 5, 21, 22, 23})
    rendered = render_file(app)
    assert rendered.startswith("## File: 'app.py'\n")
    assert "__new hunk__\n1  import os\n2 +def main() -> None:" in rendered
    assert "2 -print('hi')" in rendered.split("__old hunk__", 1)[1]
    assert files["old.txt"].status is FileStatus.DELETED
    assert commentable_lines(files["old.txt"]).right == frozenset()


def test_packing_puts_deletions_last_and_lists_what_does_not_fit() -> None:
    files = parse_unified_diff(DIFF)

    packed = pack_files(files, 10_000)
    assert "## File: 'app.py'" in packed.text
    assert packed.omitted == ()

    packed = pack_files(files, 10)
    assert packed.included == ()
    assert packed.omitted == ("app.py", "old.txt")


def test_documentation_paths() -> None:
    assert is_doc_path("README.md")
    assert is_doc_path("docs/api/index.html")
    assert is_doc_path("./CHANGELOG")
    assert not is_doc_path("src/app.py")
    assert not is_doc_path("setup.cfg")


async def test_submit_checks_required_fields_types_and_the_modes_rule() -> None:
    async def check(args: dict[str, Any]) -> str | None:
        return None if args["cited_files"] else "cite something"

    tool = SubmitTool(TaskMode.ASK, check)

    assert (await tool.run({"answer": "x"})).is_error
    assert (await tool.run({"answer": "", "cited_files": ["a"]})).is_error
    assert (await tool.run({"answer": "x", "cited_files": "a"})).is_error
    assert (await tool.run({"answer": "x", "cited_files": []})).text == "cite something"
    assert not (await tool.run({"answer": "x", "cited_files": ["a.py"]})).is_error


async def test_a_finding_outside_the_diff_is_kept_for_the_summary() -> None:
    tool = FindingsTool({f.path: f for f in parse_unified_diff(DIFF)})
    base = {"severity": "major", "title": "t", "body": "b"}

    inside = await tool.run({**base, "path": "./app.py", "line": 22})
    outside = await tool.run({**base, "path": "app.py", "line": 12})
    elsewhere = await tool.run({**base, "path": "lib.py", "line": 1})
    invalid = await tool.run({**base, "path": "app.py", "line": "3"})

    assert [f.in_diff for f in tool.findings] == [True, False, False]
    assert "inline comment" in inside.text
    assert "commentable RIGHT lines: 1-5, 21-23" in outside.text
    assert "not part of this diff" in elsewhere.text
    assert invalid.is_error


async def test_findings_on_removed_lines_and_line_ranges_are_checked_per_side_and_hunk() -> None:
    tool = FindingsTool({f.path: f for f in parse_unified_diff(DIFF)})
    base = {"severity": "major", "title": "t", "body": "b", "path": "app.py"}

    removed = await tool.run({**base, "line": 2, "side": "LEFT"})
    range_in_hunk = await tool.run({**base, "start_line": 2, "line": 4})
    left_only = await tool.run({**base, "line": 20, "side": "LEFT"})
    right_of_left_only = await tool.run({**base, "line": 20})
    across_hunks = await tool.run({**base, "start_line": 4, "line": 22})
    bad_side = await tool.run({**base, "line": 2, "side": "BOTH"})

    assert [(f.in_diff, f.side, f.start_line) for f in tool.findings] == [
        (True, "LEFT", None),
        (True, "RIGHT", 2),
        (True, "LEFT", None),
        (False, "RIGHT", None),
        (False, "RIGHT", 4),
    ]
    assert "app.py:2 (removed lines)" in removed.text
    assert "app.py:2-4" in range_in_hunk.text
    assert "app.py:20" in left_only.text
    assert "outside the diff" in right_of_left_only.text
    assert "not inside one hunk" in across_hunks.text
    assert bad_side.is_error


@given(st.text(max_size=300))
def test_argument_summaries_are_single_line_and_capped(text: str) -> None:
    summary = summarise_arguments({"content": text, "n": 3})
    assert "\n" not in summary["content"]
    assert len(summary["content"]) <= 81
    assert summary["n"] == 3


def test_paths_are_normalised() -> None:
    assert normalise_path("./docs//a.md") == "docs/a.md"
