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


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        (
            "\uff21\uff24\uff21\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d",
            "ada@example.com",
        ),  # full-width letters and @
        ("\U0001d41a\U0001d41d\U0001d41a@example.com", "ada@example.com"),  # mathematical bold
        ("ada@xn--bcher-kva.de", "ada@bücher.de"),  # punycode and Unicode are one domain
        ("Ada@BÜCHER.de", "ada@bücher.de"),
        ("ada@example.com.", "ada@example.com"),
        ("田中@例え.jp", "田中@例え.jp"),
    ],
)
def test_look_alike_spellings_normalise_to_one_address(spelling: str, canonical: str) -> None:
    assert normalize_email(spelling) == canonical


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("ada\u200b@example.com", "invisible"),  # zero-width space
        ("a\u200dda@example.com", "invisible"),  # zero-width joiner
        ("ada@exam\u2060ple.com", "invisible"),  # word joiner: the IDNA codec would silently drop it
        ("\u202eada@example.com", "bidirectional"),  # right-to-left override
        ("ada\u2066@example.com", "bidirectional"),  # left-to-right isolate
        ("ada\u3164@example.com", "invisible"),  # Hangul filler
        ("\u0430da@example.com", "mix scripts"),  # a Cyrillic a among Latin letters
        ("ada@ex\u0430mple.com", "mix scripts"),
        ("ada\U0001f600@example.com", "emoji"),
        ("ada\u2764\ufe0f@example.com", "invisible"),  # emoji with a variation selector
        ("a@x..io", "host name"),
        ("a@.x.io", "host name"),
        ("a@-x.io", "host name"),
        ("a@1.2.3.4", "host name"),
        ("a@[127.0.0.1]", "host name"),
        ("a..b@x.io", "valid email"),
        ('"a b"@x.io', "valid email"),
    ],
)
def test_invisible_bidi_mixed_script_emoji_and_malformed_addresses_are_refused(bad: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_email(bad)
    [problem] = caught.value.problems
    assert problem.field == "email"
    assert says in problem.message
