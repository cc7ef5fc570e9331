"""The README tells how to run the agent's tasks on a real provider, outside CI, with settings that exist."""

from __future__ import annotations

import re
from pathlib import Path

from asynccoder.ioc import settings

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### Running the agent against a real provider (not part of CI)"


def _section() -> str:
    text = README.read_text()
    assert SECTION in text
    body = text.split(SECTION, 1)[1]
    return re.split(r"\n#{2,3} ", body, maxsplit=1)[0]


def test_the_real_provider_section_names_only_settings_that_exist() -> None:
    section = _section()
    exported = set(re.findall(r"(?:export|unset) ((?:[A-Z][A-Z0-9_]*=?\S* ?)+)", section))
    names = {m for chunk in exported for m in re.findall(r"\b([A-Z][A-Z0-9_]{3,})\b", chunk)}

    assert {"CLAUDE_API_KEY", "ASYNCCODER_DEMO_MODEL"} <= names
    assert names <= set(settings._FIELDS)
    for mode in ("ask", "architect", "debug", "documentation", "pr_review"):
        assert f"`{mode}`" in section
