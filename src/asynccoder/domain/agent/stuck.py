"""Stuck detection: when an agent repeats itself, more steps only burn money.

Three patterns, after OpenHands' stuck detector: the same action with the same result four times in a row,
the same failing action three times in a row, or two action/result pairs alternating over six steps
(A, B, A, B, A, B). An action is the tool name and its arguments in canonical form;
a result is compared by its exact text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

REPEATED_PAIRS = 4
REPEATED_FAILURES = 3
ALTERNATION_STEPS = 6


@dataclass(frozen=True, slots=True)
class Step:
    """One tool call and what it returned, reduced to comparable fingerprints."""

    action: str
    result: str
    failed: bool

    @staticmethod
    def of(tool: str, arguments: dict[str, Any], result: str, *, failed: bool) -> Step:
        action = tool + " " + json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
        return Step(action, hashlib.sha256(result.encode()).hexdigest(), failed)


def stuck_reason(steps: list[Step]) -> str | None:
    """Why the latest steps look stuck, or None."""
    if len(steps) >= REPEATED_PAIRS:
        last = steps[-REPEATED_PAIRS:]
        if all(s.action == last[0].action and s.result == last[0].result for s in last):
            return f"the same action returned the same result {REPEATED_PAIRS} times in a row"
    if len(steps) >= REPEATED_FAILURES:
        last = steps[-REPEATED_FAILURES:]
        if all(s.failed and s.action == last[0].action for s in last):
            return f"the same action failed {REPEATED_FAILURES} times in a row"
    if len(steps) >= ALTERNATION_STEPS:
        pairs = [(s.action, s.result) for s in steps[-ALTERNATION_STEPS:]]
        a, b = pairs[0], pairs[1]
        if a != b and all(pair == (a if i % 2 == 0 else b) for i, pair in enumerate(pairs)):
            return f"two actions alternated with the same results for {ALTERNATION_STEPS} steps"
    return None
