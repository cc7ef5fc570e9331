"""Secrets at rest: AEAD, bound to their owner row, versioned key ring."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.application.ports.system import SecretUnreadable

OLD = ("k1", b"\x01" * 32)
NEW = ("k2", b"\x02" * 32)


@given(st.text(max_size=500), st.text(max_size=80))
def test_what_is_sealed_opens_with_the_same_context(plaintext: str, context: str) -> None:
    box = AesGcmSecretBox([NEW, OLD])
    assert box.decrypt(box.encrypt(plaintext, context=context), context=context) == plaintext


def test_the_ciphertext_contains_no_plaintext_and_names_its_key() -> None:
    box = AesGcmSecretBox([NEW, OLD])
    sealed = box.encrypt("sk-ant-canary-123", context="api_keys:1:user-a")
    assert "canary" not in sealed
    assert sealed.startswith("v1.k2.")


def test_a_ciphertext_copied_to_another_owner_row_does_not_open() -> None:
    box = AesGcmSecretBox([NEW])
    sealed = box.encrypt("secret", context="api_keys:1:user-a")
    with pytest.raises(SecretUnreadable):
        box.decrypt(sealed, context="api_keys:2:user-b")


def test_a_tampered_ciphertext_does_not_open() -> None:
    box = AesGcmSecretBox([NEW])
    sealed = box.encrypt("secret", context="c")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SecretUnreadable):
        box.decrypt(flipped, context="c")


def test_relabelling_a_ciphertext_to_another_key_does_not_open() -> None:
    box = AesGcmSecretBox([NEW, OLD])
    sealed = box.encrypt("secret", context="c")
    with pytest.raises(SecretUnreadable):
        box.decrypt(sealed.replace("v1.k2.", "v1.k1.", 1), context="c")


def test_old_keys_still_decrypt_and_mark_the_secret_for_rotation() -> None:
    old_box = AesGcmSecretBox([OLD])
    sealed = old_box.encrypt("secret", context="c")
    ring = AesGcmSecretBox([NEW, OLD])
    assert ring.decrypt(sealed, context="c") == "secret"
    assert ring.needs_rotation(sealed)
    assert not ring.needs_rotation(ring.encrypt("secret", context="c"))


def test_a_removed_key_makes_its_secrets_unreadable() -> None:
    sealed = AesGcmSecretBox([OLD]).encrypt("secret", context="c")
    with pytest.raises(SecretUnreadable):
        AesGcmSecretBox([NEW]).decrypt(sealed, context="c")
