"""Deterministic truncation of tool output: the same text always gives the same bytes.

Outputs longer than ``head + tail`` characters (10,000 by default, as mini-swe-agent does) keep their first
``head`` and last ``tail`` characters around one fixed notice that says how much was left out and what to do.
A prompt cache keeps hitting only if history is byte-stable, so nothing here depends on time or randomness.
"""

from __future__ import annotations

from dataclasses import dataclass

HEAD_CHARS = 5_000
TAIL_CHARS = 5_000

NOTICE = (
    "\n\n[... {elided} characters elided. The output was too long: run a narrower command "
    "(head, tail, sed -n 'A,Bp', grep -n), view a line range, or redirect the output to a file and "
    "search that file ...]\n\n"
)


@dataclass(frozen=True, slots=True)
class Truncated:
    text: str
    truncated: bool
    original_chars: int


def _render(head: str, tail: str, total: int) -> Truncated:
    elided = total - len(head) - len(tail)
    if elided <= 0:
        return Truncated(head + tail, False, total)
    return Truncated(head + NOTICE.format(elided=f"{elided:,}") + tail, True, total)


def truncate_middle(text: str, *, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> Truncated:
    """``text`` unchanged when it has at most ``head + tail`` characters, else head + notice + tail."""
    if head < 0 or tail < 0:
        raise ValueError("head and tail must not be negative")
    if len(text) <= head + tail:
        return Truncated(text, False, len(text))
    return _render(text[:head], text[len(text) - tail :] if tail else "", len(text))


class HeadTailBuffer:
    """Streams text in chunks, keeping only ``head`` + ``tail`` characters in memory.

    ``result()`` equals ``truncate_middle`` of the concatenated chunks, however the stream was split, so a
    command's output can be capped while it runs without losing determinism.
    """

    def __init__(self, *, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> None:
        if head < 0 or tail < 0:
            raise ValueError("head and tail must not be negative")
        self._head_limit = head
        self._tail_limit = tail
        self._head: list[str] = []
        self._head_len = 0
        self._tail = ""
        self._total = 0

    @property
    def total_chars(self) -> int:
        return self._total

    def feed(self, chunk: str) -> None:
        self._total += len(chunk)
        room = self._head_limit - self._head_len
        if room > 0:
            taken = chunk[:room]
            self._head.append(taken)
            self._head_len += len(taken)
            chunk = chunk[room:]
        if chunk and self._tail_limit:
            self._tail = (self._tail + chunk)[-self._tail_limit :]

    def result(self) -> Truncated:
        head = "".join(self._head)
        # Characters that went to ``head`` never reach ``tail``: a short text's tail holds only the rest.
        return _render(head, self._tail, self._total)
