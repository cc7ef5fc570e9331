"""Clerk session tokens: RS256 JWTs verified against the instance's JWKS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
import jwt
import structlog
from jwt.algorithms import RSAAlgorithm

from asynccoder.application.ports.identity import (
    ClerkIdentity,
    ClerkTokenVerifier,
)
from asynccoder.application.ports.system import Clock
from asynccoder.domain.errors import Unauthenticated

log = structlog.get_logger("asynccoder.clerk")
LEEWAY_SECONDS = 30
_REQUIRED = ["exp", "iat", "nbf", "sub", "iss"]


def _invalid(message: str = "The session token is not valid.") -> Unauthenticated:
    return Unauthenticated(message, code="invalid_token")


class JwksClerkTokenVerifier(ClerkTokenVerifier):
    """RS256 only; keys come from ``jwks_url`` and are cached by ``kid``.

    An unknown ``kid`` refetches the JWKS at most once per ``refetch_interval_seconds`` (a flood of forged
    kids cannot hammer Clerk); a JWKS that cannot be fetched fails closed (401) and is retried after at most
    ``OUTAGE_RETRY_SECONDS``. Times come from the Clock.
    """

    OUTAGE_RETRY_SECONDS = 5.0

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        authorized_parties: Sequence[str],
        http: httpx.AsyncClient,
        clock: Clock,
        refetch_interval_seconds: float = 60.0,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._authorized_parties = frozenset(authorized_parties)
        self._http = http
        self._clock = clock
        self._refetch_interval = refetch_interval_seconds
        self._keys: dict[str, Any] = {}
        self._next_fetch_at: float | None = None
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> ClerkIdentity | None:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        if unverified.get("iss") != self._issuer:
            return None  # not from our Clerk instance: another verifier may know it
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise _invalid()
        key = await self._key(header["kid"])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self._issuer,
                options={
                    "require": _REQUIRED,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                },
            )
        except jwt.PyJWTError:
            raise _invalid() from None
        now = self._clock.now().timestamp()
        if not isinstance(claims["exp"], int | float) or claims["exp"] + LEEWAY_SECONDS < now:
            raise Unauthenticated("The session token has expired.", code="token_expired")
        if not isinstance(claims["nbf"], int | float) or claims["nbf"] - LEEWAY_SECONDS > now:
            raise _invalid("The session token is not valid yet.")
        if not isinstance(claims["iat"], int | float) or claims["iat"] - LEEWAY_SECONDS > now:
            raise _invalid("The session token is not valid yet.")
        if self._authorized_parties and claims.get("azp") not in self._authorized_parties:
            raise _invalid()
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > 128:
            raise _invalid()
        email = claims.get("email")
        name = claims.get("name")
        return ClerkIdentity(
            clerk_user_id=subject,
            email=email if isinstance(email, str) else None,
            name=name if isinstance(name, str) else None,
        )

    async def _key(self, kid: str) -> Any:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid in self._keys:
                return self._keys[kid]
            now = self._clock.now().timestamp()
            if self._next_fetch_at is None or now >= self._next_fetch_at:
                try:
                    await self._fetch()
                    self._next_fetch_at = now + self._refetch_interval
                except Unauthenticated:
                    # After an outage, try again sooner than the normal interval, but still rate limited.
                    self._next_fetch_at = now + min(self.OUTAGE_RETRY_SECONDS, self._refetch_interval)
                    raise
        if kid not in self._keys:
            raise _invalid()
        return self._keys[kid]

    async def _fetch(self) -> None:
        try:
            response = await self._http.get(self._jwks_url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
            keys: dict[str, Any] = {}
            for jwk in document.get("keys", []):
                if (
                    jwk.get("kty") == "RSA"
                    and isinstance(jwk.get("kid"), str)
                    and jwk.get("use", "sig") == "sig"
                ):
                    keys[jwk["kid"]] = RSAAlgorithm.from_jwk(json.dumps(jwk))
        except (httpx.HTTPError, ValueError, AttributeError, jwt.PyJWTError) as exc:
            log.warning("clerk_jwks_unavailable", error=type(exc).__name__)
            raise Unauthenticated(
                "The session token cannot be verified right now.", code="invalid_token"
            ) from None
        self._keys = keys
