"""Unified diffs: hunks numbered on the new side (PR-Agent style), commentable lines, findings, packing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from asynccoder.domain.agent.diffs import (
    FileStatus,
    Side,
    commentable_lines,
    estimate_tokens,
    pack_files,
    parse_unified_diff,
    relevance,
    render_file,
    validate_finding,
)

DIFF = """\
diff --git a/app.py b/app.py
index 1111111..2222222 100644
--- a/app.py
+++ b/app.py
@@ -1,5 +1,6 @@ def main():
 import os
-print('hi')
+print('hello')
+print('world')
 x = 1
 y = 2
 z = 3
@@ -20,3 +21,2 @@ class A:
 a = 1
-b = 2
 c = 3
diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+first
+second
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 4444444..0000000
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/old_name.py b/new_name.py
similarity index 90%
rename from old_name.py
rename to new_name.py
index 5555555..6666666 100644
--- a/old_name.py
+++ b/new_name.py
@@ -1 +1 @@
-a = 1
+a = 2
\\ No newline at end of file
diff --git a/logo.png b/logo.png
index 7777777..8888888 100644
Binary files a/logo.png and b/logo.png differ
"""


def test_files_are_parsed_with_status_and_paths() -> None:
    files = parse_unified_diff(DIFF)
    assert [(f.path, f.status, f.old_path) for f in files] == [
        ("app.py", FileStatus.MODIFIED, "app.py"),
        ("new.txt", FileStatus.ADDED, None),
        ("gone.txt", FileStatus.DELETED, "gone.txt"),
        ("new_name.py", FileStatus.RENAMED, "old_name.py"),
        ("logo.png", FileStatus.MODIFIED, "logo.png"),
    ]
    assert files[-1].binary
    assert (files[0].additions, files[0].deletions) == (2, 2)


def test_hunk_lines_are_numbered_on_both_sides() -> None:
    app = parse_unified_diff(DIFF)[0]
    first, second = app.hunks
    assert [(ln.kind, ln.old_line, ln.new_line) for ln in first.lines] == [
        (" ", 1, 1),
        ("-", 2, None),
        ("+", None, 2),
        ("+", None, 3),
        (" ", 3, 4),
        (" ", 4, 5),
        (" ", 5, 6),
    ]
    assert second.section == "class A:"
    assert [(ln.kind, ln.old_line, ln.new_line) for ln in second.lines] == [
        (" ", 20, 21),
        ("-", 21, None),
        (" ", 22, 22),
    ]


def test_commentable_lines_are_added_and_context_on_the_right_removed_and_context_on_the_left() -> None:
    app = parse_unified_diff(DIFF)[0]
    lines = commentable_lines(app)
    assert lines.right == frozenset({1, 2, 3, 4, 5, 6, 21, 22})
    assert lines.left == frozenset({1, 2, 3, 4, 5, 20, 21, 22})


def test_rendering_numbers_the_new_hunk_and_the_removed_lines_of_the_old_hunk_by_old_number() -> None:
    rendered = render_file(parse_unified_diff(DIFF)[0])
    assert rendered.splitlines()[:12] == [
        "## File: 'app.py'",
        "",
        "@@ -1,5 +1,6 @@ def main():",
        "__new hunk__",
        "1  import os",
        "2 +print('hello')",
        "3 +print('world')",
        "4  x = 1",
        "5  y = 2",
        "6  z = 3",
        "__old hunk__",
        "1  import os",
    ]
    assert "2 -print('hi')" in rendered


def test_findings_are_validated_against_the_diff() -> None:
    files = parse_unified_diff(DIFF)
    assert validate_finding(files, path="app.py", line=3).ok
    assert validate_finding(files, path="app.py", line=2, start_line=1).ok
    assert validate_finding(files, path="app.py", line=21, side="LEFT").ok
    assert not validate_finding(files, path="app.py", line=10).ok
    assert "not inside one hunk" in (
        validate_finding(files, path="app.py", line=21, start_line=5).reason or ""
    )
    assert not validate_finding(files, path="app.py", line=2, side="LEFT", start_line=3).ok
    assert "not part of the diff" in (validate_finding(files, path="other.py", line=1).reason or "")
    assert not validate_finding(files, path="logo.png", line=1).ok
    assert not validate_finding(files, path="app.py", line=2, side="MIDDLE").ok
    assert validate_finding(files, path="gone.txt", line=1, side=Side.LEFT).ok
    assert not validate_finding(files, path="gone.txt", line=1, side=Side.RIGHT).ok


def test_packing_keeps_what_fits_and_lists_the_rest() -> None:
    files = parse_unified_diff(DIFF)
    everything = pack_files(files, 100_000)
    assert everything.omitted == ()
    assert "Other modified files" not in everything.text
    small = pack_files(files, 260)
    assert small.included
    assert small.omitted
    assert len(small.text) <= 260
    assert set(small.included) | set(small.omitted) == {f.path for f in files}
    for path in small.omitted:
        assert f"- {path}\n" in small.text
    assert pack_files(files, 260) == small


def _added_file(path: str, lines: int) -> str:
    body = "".join(f"+line {i}\n" for i in range(lines))
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
        f"@@ -0,0 +1,{lines} @@\n{body}"
    )


def test_relevance_puts_code_before_other_text_before_lockfiles_and_generated_files() -> None:
    assert relevance("src/app.py") == relevance("web/App.tsx") == 0
    assert relevance("README.md") == relevance("config/settings.yaml") == 1
    for path in ("package-lock.json", "sub/poetry.lock", "go.sum", "dist/app.js", "ui/app.min.js"):
        assert relevance(path) == 2, path


def test_packing_by_token_estimate_fills_the_budget_with_code_first_and_lists_the_rest() -> None:
    diff = _added_file("package-lock.json", 3) + _added_file("README.md", 3) + _added_file("src/big.py", 60)
    files = parse_unified_diff(diff)
    code_tokens = estimate_tokens(render_file(files[2]))

    packed = pack_files(files, code_tokens + 22, measure=estimate_tokens)

    assert packed.included == ("src/big.py",)
    assert packed.omitted == ("package-lock.json", "README.md")
    assert packed.text.endswith("- package-lock.json\n- README.md\n")
    assert estimate_tokens(packed.text) <= code_tokens + 22
    everything = pack_files(files, 10_000, measure=estimate_tokens)
    assert everything.included == ("package-lock.json", "README.md", "src/big.py")  # diff order kept


# ---- property: the numbering of any generated diff follows its lines ----------------------------------

hunk_lines = st.lists(st.sampled_from([" ", "+", "-"]), min_size=1, max_size=30)


@given(st.integers(1, 500), st.integers(1, 500), hunk_lines)
def test_generated_hunks_are_numbered_consecutively_on_each_side(
    old_start: int, new_start: int, kinds: list[str]
) -> None:
    old_count = sum(1 for k in kinds if k != "+")
    new_count = sum(1 for k in kinds if k != "-")
    body = "\n".join(f"{k}line {i}" for i, k in enumerate(kinds))
    diff = f"--- a/f.py\n+++ b/f.py\n@@ -{old_start},{old_count} +{new_start},{new_count} @@\n{body}\n"
    (file,) = parse_unified_diff(diff)
    (hunk,) = file.hunks
    assert [ln.kind for ln in hunk.lines] == kinds
    new_numbers = [ln.new_line for ln in hunk.lines if ln.kind != "-"]
    old_numbers = [ln.old_line for ln in hunk.lines if ln.kind != "+"]
    assert new_numbers == list(range(new_start, new_start + new_count))
    assert old_numbers == list(range(old_start, old_start + old_count))
    rendered = render_file(file)
    for line in hunk.lines:
        if line.kind != "-":
            assert f"\n{line.new_line} {'+' if line.kind == '+' else ' '}{line.text}\n" in rendered
    right = commentable_lines(file).right
    for number in right:
        assert validate_finding([file], path="f.py", line=number).ok
    assert not validate_finding([file], path="f.py", line=new_start + new_count).ok
