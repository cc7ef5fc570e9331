"""Response structs are built from domain objects by attribute name; derived fields are given by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest

from asynccoder.entrypoints.http.common import wire

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ID = UUID("01890000-0000-7000-8000-000000000001")


@dataclass(frozen=True, slots=True)
class _Stats:
    additions: int
    deletions: int


@dataclass(frozen=True, slots=True)
class _Thing:
    id: UUID
    name: str
    secret_hash: str
    created_at: datetime
    stats: _Stats
    files: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.files)


class _StatsOut(msgspec.Struct):
    additions: int
    deletions: int


class _ThingOut(msgspec.Struct):
    id: str
    title: str
    created_at: datetime
    stats: _StatsOut
    files: list[str]
    size: int


THING = _Thing(ID, "a", "never-on-the-wire", AT, _Stats(3, 1), ("x.py", "y.py"))


def test_matching_attributes_nested_objects_and_properties_are_copied_and_derived_fields_are_given() -> None:
    out = wire(_ThingOut, THING, id=str(THING.id), title=THING.name)

    assert out == _ThingOut(str(ID), "a", AT, _StatsOut(3, 1), ["x.py", "y.py"], 2)


def test_datetimes_stay_datetimes_and_attributes_without_a_wire_field_stay_out() -> None:
    out = wire(_ThingOut, THING, id=str(THING.id), title=THING.name)

    assert type(out.created_at) is datetime
    assert b"never-on-the-wire" not in msgspec.json.encode(out)


def test_a_field_whose_wire_type_differs_must_be_derived() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.id"):
        wire(_ThingOut, THING, title=THING.name)
