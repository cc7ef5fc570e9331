"""User rules: email normalisation, display names, authentication status."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccoder.domain.errors import InvalidInput
from asynccoder.domain.identity import (
    UserStatus,
    normalize_email,
    validate_display_name,
)
from tests.support.builders import make_user


def test_emails_are_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"


@pytest.mark.parametrize(
    "bad", ["", "ada", "ada@", "@example.com", "a b@example.com", "ada@example", "x" * 250 + "@e.io"]
)
def test_invalid_emails_are_refused_with_the_field_named(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_email(bad)
    assert caught.value.problems[0].field == "email"


@given(st.emails())
def test_normalising_is_idempotent(email: str) -> None:
    once = normalize_email(email)
    assert normalize_email(once) == once


@pytest.mark.parametrize("bad", ["", "   ", "x" * 101, "tab\there"])
def test_display_names_must_be_short_printable_text(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validate_display_name(bad)


def test_a_disabled_user_cannot_authenticate() -> None:
    assert make_user().can_authenticate
    assert not make_user(status=UserStatus.DISABLED).can_authenticate
