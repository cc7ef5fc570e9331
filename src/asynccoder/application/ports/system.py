"""System ports every feature uses: time, identifiers, secrets at rest, health probes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID


class Clock(Protocol):
    """The current time, always timezone-aware UTC."""

    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    """New unique identifiers: UUIDv7, so they sort by creation time."""

    def new_id(self) -> UUID: ...


class SecretBox(Protocol):
    """Authenticated encryption of secrets at rest under a versioned key ring.

    ``context`` is associated data binding a ciphertext to its owner row (e.g. ``"api_keys:<id>:<user id>"``):
    decrypting with any other context fails. Ciphertexts record the key id that made them.
    ``decrypt`` raises ``SecretUnreadable`` when the ciphertext is damaged, bound elsewhere or its key is
    gone.
    """

    def encrypt(self, plaintext: str, *, context: str) -> str: ...

    def decrypt(self, ciphertext: str, *, context: str) -> str: ...

    def needs_rotation(self, ciphertext: str) -> bool: ...


class SecretUnreadable(Exception):
    """A ciphertext could not be decrypted (tampered, bound to another row, or its key was removed)."""


class HealthProbe(Protocol):
    """Checks one dependency; ``check`` returns ``None`` when healthy, else a short reason safe to publish."""

    name: str

    async def check(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    name: str
    healthy: bool
    reason: str | None = None
