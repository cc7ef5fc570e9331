"""Deterministic truncation of tool output (head 5,000 + tail 5,000 around a fixed notice)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from asynccoder.domain.agent.truncation import HeadTailBuffer, truncate_middle


def test_output_up_to_ten_thousand_characters_is_kept_whole() -> None:
    text = "x" * 10_000
    result = truncate_middle(text)
    assert result.text == text
    assert not result.truncated


def test_longer_output_keeps_head_and_tail_around_a_notice_with_the_elided_count() -> None:
    text = "H" * 5_000 + "M" * 2_345 + "T" * 5_000
    result = truncate_middle(text)
    assert result.truncated
    assert result.text.startswith("H" * 5_000 + "\n\n[... 2,345 characters elided.")
    assert result.text.endswith("...]\n\n" + "T" * 5_000)
    assert "M" not in result.text
    assert result.original_chars == len(text)


@given(st.text(max_size=400), st.integers(0, 60), st.integers(0, 60))
def test_truncation_is_a_pure_function_of_its_input(text: str, head: int, tail: int) -> None:
    first = truncate_middle(text, head=head, tail=tail)
    second = truncate_middle(str(text), head=head, tail=tail)
    assert first == second
    assert first.truncated == (len(text) > head + tail)
    if first.truncated:
        assert first.text.startswith(text[:head])
        assert first.text.endswith(text[len(text) - tail :] if tail else "")


@given(st.lists(st.text(max_size=50), max_size=30), st.integers(0, 40), st.integers(0, 40))
def test_streaming_in_any_chunks_gives_the_same_bytes_as_truncating_the_whole(
    chunks: list[str], head: int, tail: int
) -> None:
    buffer = HeadTailBuffer(head=head, tail=tail)
    for chunk in chunks:
        buffer.feed(chunk)
    assert buffer.result() == truncate_middle("".join(chunks), head=head, tail=tail)
    assert buffer.total_chars == sum(map(len, chunks))
