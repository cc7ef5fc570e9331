"""Password rules and argon2id hashing."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters

from asynccoder.adapters.crypto.passwords import Argon2PasswordHasher
from asynccoder.domain.errors import InvalidInput
from asynccoder.domain.identity import (
    MAX_PASSWORD_LENGTH,
    validate_new_password,
)
from tests.support.identity import CHEAP_HASH


async def test_the_default_parameters_are_argon2id_at_or_above_owasps_minimum() -> None:
    hasher = Argon2PasswordHasher()
    params = extract_parameters(await hasher.hash("correct horse battery"))
    assert params.type.name == "ID"
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert params.parallelism >= 1


async def test_a_hash_verifies_its_password_and_nothing_else() -> None:
    hasher = Argon2PasswordHasher(**CHEAP_HASH)
    hashed = await hasher.hash("correct horse battery")
    assert "correct horse" not in hashed
    assert await hasher.verify(hashed, "correct horse battery")
    assert not await hasher.verify(hashed, "correct horse batterz")
    assert not await hasher.verify("not-a-hash", "correct horse battery")


async def test_a_hash_made_with_weaker_parameters_needs_a_rehash() -> None:
    old = await Argon2PasswordHasher(**CHEAP_HASH).hash("correct horse battery")
    stronger = Argon2PasswordHasher(memory_kib=128, time_cost=2, parallelism=1)
    assert stronger.needs_rehash(old)
    assert not stronger.needs_rehash(await stronger.hash("correct horse battery"))


async def test_the_dummy_verify_never_succeeds() -> None:
    hasher = Argon2PasswordHasher(**CHEAP_HASH)
    await hasher.dummy_verify("anything at all")  # no exception, no result


@pytest.mark.parametrize(
    "password",
    ["short", "elevenchars", "a" * 12, "abababababab", "x" * (MAX_PASSWORD_LENGTH + 1)],
)
def test_weak_or_over_long_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_new_password(password)
    assert info.value.code == "weak_password"


@pytest.mark.parametrize("password", ["correct horse battery", "Tr0ub4dor&3xyz", "x" * 250 + "abcdef"])
def test_long_enough_varied_passwords_are_accepted(password: str) -> None:
    assert validate_new_password(password) == password
