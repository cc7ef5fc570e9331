"""Open event streams counted in process memory (one API process)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.application.ports.events import StreamSlots
from asynccoder.application.ports.system import Clock


class InMemoryStreamSlots(StreamSlots):
    """Slots per user, each with a lease; expired leases are dropped whenever the user's slots are read."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._slots: dict[UUID, dict[UUID, datetime]] = {}

    def _live(self, user_id: UUID) -> dict[UUID, datetime]:
        now = self._clock.now()
        slots = {slot: until for slot, until in self._slots.get(user_id, {}).items() if until > now}
        if slots:
            self._slots[user_id] = slots
        else:
            self._slots.pop(user_id, None)
        return slots

    async def acquire(self, user_id: UUID, slot_id: UUID, *, limit: int, lease_seconds: int) -> bool:
        slots = self._live(user_id)
        if slot_id not in slots and len(slots) >= limit:
            return False
        slots[slot_id] = self._clock.now() + timedelta(seconds=lease_seconds)
        self._slots[user_id] = slots
        return True

    async def renew(self, user_id: UUID, slot_id: UUID, *, lease_seconds: int) -> None:
        slots = self._live(user_id)
        if slot_id in slots:
            slots[slot_id] = self._clock.now() + timedelta(seconds=lease_seconds)

    async def release(self, user_id: UUID, slot_id: UUID) -> None:
        slots = self._slots.get(user_id)
        if slots is not None:
            slots.pop(slot_id, None)
            if not slots:
                del self._slots[user_id]

    async def count(self, user_id: UUID) -> int:
        return len(self._live(user_id))
