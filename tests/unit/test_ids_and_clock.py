"""Identifier generators and clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from tests.support.system import ManualClock, SequentialIdGenerator


def test_generated_ids_are_uuid7_and_sort_by_creation() -> None:
    gen = Uuid7Generator()
    ids = [gen.new_id() for _ in range(1000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_sequential_ids_are_valid_uuid7_in_order() -> None:
    gen = SequentialIdGenerator()
    ids = [gen.new_id() for _ in range(5)]
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in ids)
    assert ids == sorted(ids)


def test_system_clock_is_utc_aware() -> None:
    assert SystemClock().now().tzinfo is UTC


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(timedelta(minutes=5))
    assert clock.now() == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 1, 1))
