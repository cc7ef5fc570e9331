"""The platform's own access tokens as a credential verifier."""

from __future__ import annotations

from asynccoder.application.ports.identity import (
    AccessTokenService,
    CredentialVerifier,
    VerifiedCredential,
)
from asynccoder.application.ports.system import Clock
from asynccoder.domain.identity import CredentialKind


class AccessTokenVerifier(CredentialVerifier):
    """Recognises the platform's access JWTs (and rejects refresh tokens or other types presented as one);
    their issue time is subject to the user's revocation point."""

    def __init__(self, tokens: AccessTokenService, clock: Clock) -> None:
        self._tokens = tokens
        self._clock = clock

    async def verify(self, credential: str) -> VerifiedCredential | None:
        claims = self._tokens.verify(credential, now=self._clock.now())
        if claims is None:
            return None
        return VerifiedCredential(
            user_id=claims.user_id,
            kind=CredentialKind.ACCESS_TOKEN,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
            session_id=claims.session_id,
            authenticated_at=claims.authenticated_at,
        )
