"""What prompt caching saves on a long agent loop: a scripted 30-step task, billed with and without caching.

The real ``CodingAgent`` runs an Ask task on a real git repository of 30 source files; its model is the
real ``AnthropicChatModel`` (official SDK) talking to the local Anthropic server, which keeps a prompt cache
the way the Messages API does (``tests/support/anthropic_server.PromptCache``: breakpoints, 20-block
lookback, 1,024 token minimum) and reports ``cache_creation_input_tokens`` / ``cache_read_input_tokens``.
The same script runs twice: once as the agent sends it (``cache_prefix`` on), once with the markers
switched off. Input cost is priced with the catalogue's own arithmetic at Claude Sonnet list prices
(input $3/MTok, cache write 1.25x, read 0.1x).

Run: ``.venv/bin/python -m bench.agent_caching`` (writes ``bench/results/agent_caching.{json,md}``).
Not a timing benchmark: token counts and prices only, so the result is deterministic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx2
from tests.support import anthropic_server as wire
from tests.support.agent_runtime import (
    NOW,
    FixedPriceBudget,
    FixedPriceModels,
    LocalWorkspaces,
    SimpleToolbox,
    make_execution,
    make_remote,
    no_secrets,
)
from tests.support.ai import fast_options
from tests.support.anthropic_server import AnthropicServer, PromptCache
from tests.support.system import ManualClock, SequentialIdGenerator

from asynccoder.adapters.ai.anthropic_chat import AnthropicChatModel
from asynccoder.adapters.memory.code_hosting import InMemoryCodeHost
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.agent.coding_agent import CodingAgent
from asynccoder.application.ports.ai import ChatModel
from asynccoder.domain.ai import ChatRequest, ChatResponse, Usage
from asynccoder.domain.ai_catalogue import ModelPrice, price_exact_micro_usd_numerator
from asynccoder.domain.tasks import TaskMode

STEPS = 30
KEY = "sk-ant-bench"
RESULTS = Path(__file__).parent / "results"
SONNET = ModelPrice(
    id=UUID(int=1),
    model_id=UUID(int=2),
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    input_micro_usd_per_mtok=3_000_000,
    output_micro_usd_per_mtok=15_000_000,
    cache_read_micro_usd_per_mtok=300_000,
    cache_write_micro_usd_per_mtok=3_750_000,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


def source_file(i: int) -> str:
    """A plausible ~3 KB Python module, different per file."""
    lines = [f'"""Module {i}: helpers for feature {i}."""', "", "from __future__ import annotations", ""]
    for f in range(12):
        lines += [
            f"def feature_{i}_step_{f}(values: list[int], factor: int = {f + 1}) -> list[int]:",
            f'    """Scale the values of stage {f} and drop the ones under {i * f}."""',
            f"    return [v * factor for v in values if v >= {i * f}]",
            "",
        ]
    return "\n".join(lines) + "\n"


class WithoutCacheMarkers(ChatModel):
    """The same adapter with the caching markers switched off: the baseline."""

    def __init__(self, inner: ChatModel) -> None:
        self._inner = inner

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await self._inner.complete(dataclasses.replace(request, cache_prefix=False, cache_key=None))

    def stream(self, request: ChatRequest) -> Any:
        return self._inner.stream(dataclasses.replace(request, cache_prefix=False, cache_key=None))


def script() -> list[Any]:
    replies = [
        wire.message(
            f"Reading module {i}.", tool_calls=[(f"toolu_{i:02d}", "view", {"path": f"pkg/m{i:02d}.py"})]
        )
        for i in range(STEPS - 1)
    ]
    answer = {"answer": "Every module scales and filters its values.", "cited_files": ["pkg/m00.py"]}
    replies.append(wire.message(None, tool_calls=[("toolu_submit", "submit", answer)]))
    return replies


async def run_once(root: Path, *, caching: bool) -> dict[str, Any]:
    files = {f"pkg/m{i:02d}.py": source_file(i) for i in range(STEPS)}
    remote = make_remote(root / "origin", files)
    (root / "work").mkdir()
    async with httpx2.AsyncClient() as http:
        with AnthropicServer(api_key=KEY, prompt_cache=PromptCache(min_tokens=1024)) as server:
            server.enqueue(*script())
            options, _ = fast_options()
            model: ChatModel = AnthropicChatModel(
                api_key=KEY, base_url=server.base_url, options=options, http_client=http
            )
            if not caching:
                model = WithoutCacheMarkers(model)
            models = FixedPriceModels(model, FixedPriceBudget(cap_credits=10**9), credits_per_call=1)
            agent = CodingAgent(
                workspaces=LocalWorkspaces(remote, root / "work"),
                toolbox=SimpleToolbox(),
                code_host=InMemoryCodeHost(),
                uow=InMemoryUnitOfWork(InMemoryStore()),
                clock=ManualClock(NOW),
                ids=SequentialIdGenerator(),
                scan_secrets=no_secrets,
            )
            outcome = await agent.run(make_execution(TaskMode.ASK, models, instructions="Summarise pkg/."))
    assert outcome.result is not None, outcome
    assert not outcome.result.partial, outcome
    calls = models.budget.calls()
    assert len(calls) == STEPS, len(calls)
    total = Usage()
    for c in calls:
        total = total + Usage(c.input_tokens, 0, c.cache_read_tokens, c.cache_write_tokens)
    micro_usd = price_exact_micro_usd_numerator(total, SONNET) / 1_000_000
    return {
        "caching": caching,
        "steps": len(calls),
        "input_tokens": total.input_tokens,
        "cache_read_tokens": total.cache_read_tokens,
        "cache_write_tokens": total.cache_write_tokens,
        "prompt_tokens": total.input_tokens + total.cache_read_tokens + total.cache_write_tokens,
        "input_cost_usd": round(micro_usd / 1_000_000, 6),
    }


async def main() -> None:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        cached = await run_once(Path(a), caching=True)
        plain = await run_once(Path(b), caching=False)
    ratio = cached["input_cost_usd"] / plain["input_cost_usd"]
    result = {
        "benchmark": "agent_caching",
        "task": f"scripted Ask task, {STEPS} model calls, {STEPS - 1} file views of ~3 KB",
        "prices": "Sonnet list: input $3/MTok, cache write $3.75/MTok, cache read $0.30/MTok",
        "with_caching": cached,
        "without_caching": plain,
        "input_cost_ratio": round(ratio, 4),
        "target": "<= 0.3",
        "meets_target": ratio <= 0.3,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "agent_caching.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Prompt caching on a 30-step agent task",
        "",
        f"{result['task']}; the local Anthropic server's prompt cache reports reads and writes as the real "
        "API does. Input cost only (output is the same either way).",
        "",
        "| run | uncached input | cache writes | cache reads | billed input cost |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in (plain, cached):
        md.append(
            f"| {'with caching' if row['caching'] else 'without caching'} | {row['input_tokens']:,} | "
            f"{row['cache_write_tokens']:,} | {row['cache_read_tokens']:,} | ${row['input_cost_usd']:.4f} |"
        )
    md += ["", f"Ratio with/without: **{ratio:.3f}x** (target <= 0.3x).", ""]
    (RESULTS / "agent_caching.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    asyncio.run(main())
