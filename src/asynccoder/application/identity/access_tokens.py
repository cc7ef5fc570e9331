"""The platform's own access tokens as a credential verifier."""

from __future__ import annotations

from uuid import UUID

from asynccoder.application.ports.identity import (
    AccessTokenService,
    CredentialVerifier,
)
from asynccoder.application.ports.system import Clock


class AccessTokenVerifier(CredentialVerifier):
    """Recognises the platform's access JWTs (and rejects refresh tokens or other types presented as one)."""

    def __init__(self, tokens: AccessTokenService, clock: Clock) -> None:
        self._tokens = tokens
        self._clock = clock

    async def user_id_for(self, credential: str) -> UUID | None:
        claims = self._tokens.verify(credential, now=self._clock.now())
        return None if claims is None else claims.user_id
