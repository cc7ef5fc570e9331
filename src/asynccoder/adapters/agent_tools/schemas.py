"""Tool definitions with canonically ordered JSON schemas (prompt caching needs byte-stable tool lists)."""

from __future__ import annotations

from typing import Any

from asynccoder.domain.ai import ToolDefinition


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def definition(
    name: str, description: str, input_schema: dict[str, Any], *, native: str | None = None
) -> ToolDefinition:
    return ToolDefinition(
        name=name, description=description, input_schema=_sorted(input_schema), native=native
    )
