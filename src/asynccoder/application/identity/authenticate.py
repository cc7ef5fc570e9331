"""AuthenticateCaller use case."""

from __future__ import annotations

from collections.abc import Sequence

from asynccoder.application.ports.identity import CredentialVerifier
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.errors import Unauthenticated
from asynccoder.domain.identity import Actor


class AuthenticateCaller:
    """Resolve a bearer credential to the acting user.

    Rules: each verifier is asked in turn and the first that recognises the credential decides; a
    credential no verifier recognises is invalid; the user must exist and be active (a disabled account
    cannot authenticate, even with an unexpired token); an access token issued before the user's revocation
    point (``credentials_valid_after``: disabling, a password change) is invalid, checked on the same one
    user lookup; the role comes from the stored user, never from the token alone.
    """

    def __init__(self, verifiers: Sequence[CredentialVerifier], uow: UnitOfWork) -> None:
        self._verifiers = verifiers
        self._uow = uow

    async def __call__(self, credential: str | None) -> Actor:
        if not credential:
            raise Unauthenticated("Authentication is required.", code="missing_token")
        for verifier in self._verifiers:
            verified = await verifier.verify(credential)
            if verified is None:
                continue
            # Read-only: the caller lookup takes no write lock and leaves its connection to the handler.
            async with self._uow.read_only() as uow:
                user = await uow.users.get_standing(verified.user_id)
            if user is None or not user.can_authenticate:
                raise Unauthenticated("The token is not valid.")
            if verified.issued_at is not None and not user.accepts_token_issued_at(verified.issued_at):
                raise Unauthenticated("The token was revoked.", code="token_revoked")
            return Actor(
                user_id=user.user_id,
                role=user.role,
                credential=verified.kind,
                session_id=verified.session_id,
                authenticated_at=verified.authenticated_at,
                credential_expires_at=verified.expires_at,
            )
        raise Unauthenticated("The token is not valid.")
