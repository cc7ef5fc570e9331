"""AES-256-GCM encryption of secrets at rest under a versioned key ring."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from asynccoder.application.ports.system import (
    SecretBox,
    SecretUnreadable,
)

_VERSION = "v1"
_NONCE_BYTES = 12


class AesGcmSecretBox(SecretBox):
    """Format ``v1.<key id>.<base64url(nonce || ciphertext || tag)>``; the context is the associated data.

    The first key of the ring encrypts; any key of the ring decrypts. The key id and version are part of the
    associated data too, so a ciphertext cannot be relabelled to another key.
    """

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("the key ring is empty")
        for key_id, material in keys:
            if len(material) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes")
            if "." in key_id:
                raise ValueError("key ids cannot contain '.'")
        self._current_id = keys[0][0]
        self._keys = {key_id: AESGCM(material) for key_id, material in keys}

    @staticmethod
    def _aad(key_id: str, context: str) -> bytes:
        return f"{_VERSION}|{key_id}|{context}".encode()

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._current_id].encrypt(
            nonce, plaintext.encode(), self._aad(self._current_id, context)
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self._current_id}.{payload}"

    def decrypt(self, ciphertext: str, *, context: str) -> str:
        version, key_id, payload = self._split(ciphertext)
        key = self._keys.get(key_id)
        if version != _VERSION or key is None:
            raise SecretUnreadable("no key can open this secret")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
            return key.decrypt(nonce, sealed, self._aad(key_id, context)).decode()
        except (InvalidTag, ValueError):
            raise SecretUnreadable("the secret is damaged or bound to another owner") from None

    def needs_rotation(self, ciphertext: str) -> bool:
        return self._split(ciphertext)[1] != self._current_id

    @staticmethod
    def _split(ciphertext: str) -> tuple[str, str, str]:
        parts = ciphertext.split(".", 2)
        if len(parts) != 3:
            raise SecretUnreadable("not a sealed secret")
        return parts[0], parts[1], parts[2]
