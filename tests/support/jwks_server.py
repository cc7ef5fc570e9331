"""A local stand-in for Clerk's JWKS endpoint, with an RSA key made for the test run."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.local_http import LocalServer, Request, json_response

JWKS_PATH = "/.well-known/jwks.json"


class SigningKey:
    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or f"ins_{uuid.uuid4().hex[:12]}"
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        data.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return data

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class JwksServer:
    """Serves ``{"keys": [...]}`` at ``JWKS_PATH``; counts fetches; ``down = True`` answers 503."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.down = False
        self.fetches = 0
        self._server = LocalServer(self._handle)

    def _handle(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if request.path != JWKS_PATH:
            return json_response(404, {"error": "not found"})
        self.fetches += 1
        if self.down:
            return json_response(503, {"error": "unavailable"})
        return json_response(200, {"keys": [k.jwk for k in self.keys]})

    @property
    def jwks_url(self) -> str:
        return self._server.url + JWKS_PATH

    def close(self) -> None:
        self._server.close()


def clerk_token(
    key: SigningKey,
    *,
    issuer: str,
    subject: str = "user_2abcDEF",
    azp: str | None = "https://app.example.com",
    now: float | None = None,
    lifetime: int = 60,
    extra: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    """A Clerk-shaped session token (``sid``, ``azp``, 60 s lifetime) signed with ``key``."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "sid": "sess_123",
        "iat": issued,
        "nbf": issued - 5,
        "exp": issued + lifetime,
    }
    if azp is not None:
        claims["azp"] = azp
    claims.update(extra or {})
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid, **(headers or {})})
