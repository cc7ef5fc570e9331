"""Identifier generators: UUIDv7 everywhere."""

from __future__ import annotations

from uuid import UUID

import uuid_utils

from asynccoder.application.ports.system import IdGenerator


class Uuid7Generator(IdGenerator):
    """Random, time-ordered UUIDv7 (RFC 9562), monotonic within the process."""

    def new_id(self) -> UUID:
        return UUID(bytes=uuid_utils.uuid7().bytes)
