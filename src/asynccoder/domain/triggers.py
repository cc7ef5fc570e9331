"""Tasks triggered from the code host: the ``@asynccoder <mode> <instructions>`` comment command, the
idempotency keys that make a trigger create its task once, and the day a per-repository cap counts in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from uuid import UUID

from asynccoder.domain.ai_catalogue import TaskMode

MENTION = "@asynccoder"
TRIGGER_KEY_PREFIX = "github:"  # every task a trigger creates carries an idempotency key with this prefix
MAX_COMMAND_LENGTH = 19_000  # leaves room for the context line the task adds within the 20,000 limit

# The mention must open a line; the mode is the next word; the rest of the comment is the instructions.
_COMMAND = re.compile(r"(?im)^[ \t]*@asynccoder(?![\w-])[ \t]+([A-Za-z_-]+)[ \t]*(.*)\Z", re.DOTALL)
_MODES = {
    "ask": TaskMode.ASK,
    "debug": TaskMode.DEBUG,
    "fix": TaskMode.DEBUG,
    "documentation": TaskMode.DOCUMENTATION,
    "docs": TaskMode.DOCUMENTATION,
    "document": TaskMode.DOCUMENTATION,
    "architect": TaskMode.ARCHITECT,
    "plan": TaskMode.ARCHITECT,
    "review": TaskMode.PR_REVIEW,
    "pr_review": TaskMode.PR_REVIEW,
    "pr-review": TaskMode.PR_REVIEW,
}
DEFAULT_REVIEW_INSTRUCTIONS = "Review this pull request."


@dataclass(frozen=True, slots=True)
class MentionCommand:
    mode: TaskMode
    instructions: str


def parse_mention(body: str) -> MentionCommand | None:
    """The command of a comment, or ``None`` when it has none.

    A command is a line starting with ``@asynccoder`` followed by a known mode (``ask``, ``debug``/``fix``,
    ``documentation``/``docs``, ``architect``/``plan``, ``review``/``pr_review``) and the instructions: the
    rest of that line and every line after it. Only ``review`` may come without instructions. A mention
    elsewhere in a sentence, an unknown mode or an empty instruction is no command.
    """
    match = _COMMAND.search(body[: MAX_COMMAND_LENGTH + 200])
    if match is None:
        return None
    mode = _MODES.get(match.group(1).lower())
    if mode is None:
        return None
    instructions = match.group(2).strip()[:MAX_COMMAND_LENGTH]
    if not instructions:
        if mode is not TaskMode.PR_REVIEW:
            return None
        instructions = DEFAULT_REVIEW_INSTRUCTIONS
    return MentionCommand(mode, instructions)


def review_key(repository_id: UUID, number: int, head_sha: str) -> str:
    """One auto-review per head commit of a pull request, however often GitHub tells us about it."""
    return f"{TRIGGER_KEY_PREFIX}review:{repository_id}:{number}:{head_sha}"


def comment_key(repository_id: UUID, comment_id: str) -> str:
    """One task per comment, however often the delivery is repeated."""
    return f"{TRIGGER_KEY_PREFIX}comment:{repository_id}:{comment_id}"


def cap_day_start(now: datetime) -> datetime:
    """The start (UTC midnight) of the day a per-repository daily cap counts in."""
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
