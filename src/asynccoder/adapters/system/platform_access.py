"""The platform's own provider keys, from configuration."""

from __future__ import annotations

from collections.abc import Mapping

from asynccoder.application.ports.ai import (
    PlatformKeys,
)
from asynccoder.domain.ai import Provider


class ConfiguredPlatformKeys(PlatformKeys):
    """Keys given at start-up; a missing or empty key means the platform cannot call that provider."""

    def __init__(self, keys: Mapping[Provider, str | None]) -> None:
        self._keys = {provider: key for provider, key in keys.items() if key}

    def key_for(self, provider: Provider) -> str | None:
        return self._keys.get(provider)

    def __repr__(self) -> str:
        return f"ConfiguredPlatformKeys(providers={sorted(self._keys)})"
