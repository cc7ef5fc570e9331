"""Bounded concurrency that refuses at once: the admission gate, password hashing, large bodies."""

from __future__ import annotations

import asyncio

import pytest

from asynccoder.application.admission import AdmissionGate
from asynccoder.domain.errors import Unavailable
from tests.support.identity import CountingHasher


class Refused(Exception):
    pass


async def test_a_gate_admits_its_limit_queues_its_queue_and_refuses_the_rest_at_once() -> None:
    gate = AdmissionGate(limit=2, queue=1)
    release = asyncio.Event()
    entered: list[int] = []

    async def work(n: int) -> str:
        try:
            async with gate.admit(Refused):
                entered.append(n)
                await release.wait()
                return "done"
        except Refused:
            return "refused"

    tasks = [asyncio.create_task(work(n)) for n in range(6)]
    await asyncio.sleep(0)  # let every task reach the gate
    assert entered == [0, 1]
    assert gate.busy == 3
    release.set()
    results = await asyncio.gather(*tasks)
    assert results == ["done", "done", "done", "refused", "refused", "refused"]
    assert gate.busy == 0


async def test_password_hashing_beyond_its_slots_and_queue_is_unavailable_with_retry_after() -> None:
    hasher = CountingHasher(max_concurrency=1, max_waiting=1)
    password_hash = await hasher.hash("correct horse battery")

    results = await asyncio.gather(
        *(hasher.verify(password_hash, "correct horse battery") for _ in range(10)), return_exceptions=True
    )

    assert results[:2] == [True, True]
    busy = [r for r in results if isinstance(r, Unavailable)]
    assert len(busy) == 8
    assert all(r.code == "server_busy" and r.retry_after == 1 for r in busy)


@pytest.mark.parametrize(("limit", "queue"), [(0, 1), (1, -1)])
def test_a_gate_needs_a_place(limit: int, queue: int) -> None:
    with pytest.raises(ValueError, match="admission gate"):
        AdmissionGate(limit=limit, queue=queue)
