"""Access JWTs with PyJWT: HS256 pinned, every claim required."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import jwt

from asynccoder.application.ports.identity import (
    AccessClaims,
    AccessTokenService,
    IssuedToken,
)
from asynccoder.domain.errors import Unauthenticated
from asynccoder.domain.identity import (
    Role,
    User,
)

ACCESS_TOKEN_TYPE = "access"
_REQUIRED = ["exp", "iat", "nbf", "sub", "iss", "aud", "typ", "jti"]
LEEWAY_SECONDS = 30


class JwtAccessTokenService(AccessTokenService):
    """HS256 only (no ``alg`` negotiation), ``typ=access`` claim, issuer and audience checked, 30 s leeway."""

    def __init__(self, *, secret: str, issuer: str, audience: str, ttl: timedelta) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret must be at least 32 characters")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl

    def issue(
        self,
        user: User,
        *,
        now: datetime,
        session_id: UUID | None = None,
        authenticated_at: datetime | None = None,
    ) -> IssuedToken:
        expires_at = now + self._ttl
        claims: dict[str, object] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user.id),
            "role": user.role.value,
            "typ": ACCESS_TOKEN_TYPE,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": f"{user.id.hex[:8]}{int(now.timestamp() * 1000):x}",
        }
        if session_id is not None:
            claims["sid"] = str(session_id)
        if authenticated_at is not None:
            claims["auth_time"] = int(authenticated_at.timestamp())
        token = jwt.encode(claims, self._secret, algorithm="HS256", headers={"typ": "JWT"})
        return IssuedToken(token=token, expires_at=expires_at)

    def verify(self, token: str, *, now: datetime) -> AccessClaims | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None  # not a JWT at all: another verifier may know it
        if header.get("alg") != "HS256":
            # Could be another issuer's JWT (e.g. Clerk, RS256); never ours.
            try:
                unverified = jwt.decode(token, options={"verify_signature": False})
            except jwt.PyJWTError:
                return None
            if unverified.get("iss") == self._issuer:
                raise Unauthenticated("The token is not valid.")
            return None
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": _REQUIRED, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise Unauthenticated("The token is not valid.") from None
        # Time checks use the Clock port, not the machine's clock.
        timestamp = now.timestamp()
        if not isinstance(claims["exp"], int) or claims["exp"] + LEEWAY_SECONDS < timestamp:
            raise Unauthenticated("The token has expired.", code="token_expired")
        if not isinstance(claims["nbf"], int) or claims["nbf"] - LEEWAY_SECONDS > timestamp:
            raise Unauthenticated("The token is not valid yet.")
        # A token issued in the future was not issued by a server with a sane clock (or was forged with a
        # stolen key to outlive its rotation): refuse it like an early ``nbf``.
        if not isinstance(claims["iat"], int) or claims["iat"] - LEEWAY_SECONDS > timestamp:
            raise Unauthenticated("The token is not valid yet.")
        if claims["typ"] != ACCESS_TOKEN_TYPE:
            raise Unauthenticated("The token is not an access token.")
        try:
            user_id = UUID(str(claims["sub"]))
            role = Role(claims.get("role", "user"))
            session_id = UUID(str(claims["sid"])) if "sid" in claims else None
        except ValueError:
            raise Unauthenticated("The token is not valid.") from None
        auth_time = claims.get("auth_time")
        if auth_time is not None and not isinstance(auth_time, int):
            raise Unauthenticated("The token is not valid.")
        return AccessClaims(
            user_id=user_id,
            role=role,
            expires_at=datetime.fromtimestamp(claims["exp"], now.tzinfo),
            issued_at=datetime.fromtimestamp(claims["iat"], now.tzinfo),
            session_id=session_id,
            authenticated_at=None if auth_time is None else datetime.fromtimestamp(auth_time, now.tzinfo),
        )
