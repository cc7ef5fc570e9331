"""Clerk session tokens verified against a JWKS served over HTTP by a local server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from asynccoder.adapters.clerk.session_tokens import JwksClerkTokenVerifier
from asynccoder.domain.errors import Unauthenticated
from tests.support.jwks_server import JwksServer, SigningKey, clerk_token
from tests.support.system import ManualClock

ISSUER = "https://clerk.example.test"
APP = "https://app.example.com"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def server(key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer(key)
    yield server
    server.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
async def verifier(server: JwksServer, clock: ManualClock) -> AsyncIterator[JwksClerkTokenVerifier]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield JwksClerkTokenVerifier(
            jwks_url=server.jwks_url,
            issuer=ISSUER,
            authorized_parties=[APP],
            http=http,
            clock=clock,
            refetch_interval_seconds=60,
        )


async def test_a_valid_session_token_yields_the_clerk_user(
    verifier: JwksClerkTokenVerifier, key: SigningKey
) -> None:
    identity = await verifier.verify(clerk_token(key, issuer=ISSUER, extra={"email": "c@example.com"}))
    assert identity is not None
    assert identity.clerk_user_id == "user_2abcDEF"
    assert identity.email == "c@example.com"


async def test_keys_are_cached(verifier: JwksClerkTokenVerifier, key: SigningKey, server: JwksServer) -> None:
    for _ in range(3):
        await verifier.verify(clerk_token(key, issuer=ISSUER))
    assert server.fetches == 1


async def test_a_token_from_another_issuer_is_not_clerks(
    verifier: JwksClerkTokenVerifier, key: SigningKey
) -> None:
    assert await verifier.verify(clerk_token(key, issuer="https://evil.example")) is None


@pytest.mark.parametrize(
    "token_args",
    [
        {"now": time.time() - 3600},  # expired long ago
        {"now": time.time() + 3600},  # nbf in the future
        {"azp": "https://evil.example"},
        {"azp": None},
    ],
    ids=["expired", "not_yet_valid", "foreign_azp", "missing_azp"],
)
async def test_bad_claims_are_refused(
    verifier: JwksClerkTokenVerifier, key: SigningKey, token_args: dict[str, object]
) -> None:
    with pytest.raises(Unauthenticated):
        await verifier.verify(clerk_token(key, issuer=ISSUER, **token_args))  # type: ignore[arg-type]


async def test_a_token_issued_in_the_future_is_refused(
    verifier: JwksClerkTokenVerifier, key: SigningKey
) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "user_1", "iat": now + 3600, "nbf": now, "exp": now + 7200, "azp": APP}
    token = jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_a_token_without_exp_is_refused(verifier: JwksClerkTokenVerifier, key: SigningKey) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"iss": ISSUER, "sub": "user_1", "iat": now, "nbf": now, "azp": APP},
        key.private,
        algorithm="RS256",
        headers={"kid": key.kid},
    )
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_hs256_forged_with_the_public_key_as_secret_is_refused(
    verifier: JwksClerkTokenVerifier, key: SigningKey
) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "user_1", "iat": now, "nbf": now, "exp": now + 60, "azp": APP}
    import base64
    import hashlib
    import hmac  # PyJWT refuses to HMAC-sign with a PEM key, so forge the signature by hand
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
        + "."
        + b64(json.dumps(claims).encode())
    )
    signature = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthenticated):
        await verifier.verify(signing_input + "." + b64(signature))


async def test_alg_none_is_refused(verifier: JwksClerkTokenVerifier) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"iss": ISSUER, "sub": "user_1", "iat": now, "nbf": now, "exp": now + 60, "azp": APP},
        None,
        algorithm="none",
    )
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_an_unknown_kid_refetches_at_most_once_per_interval(
    verifier: JwksClerkTokenVerifier, key: SigningKey, server: JwksServer, clock: ManualClock
) -> None:
    await verifier.verify(clerk_token(key, issuer=ISSUER))
    assert server.fetches == 1
    stranger = SigningKey()
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await verifier.verify(clerk_token(stranger, issuer=ISSUER))
    assert server.fetches == 1  # inside the interval: no refetch at all
    clock.advance(timedelta(seconds=61))
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await verifier.verify(clerk_token(stranger, issuer=ISSUER, now=clock.now().timestamp()))
    assert server.fetches == 2  # one refetch, then rate limited


async def test_a_rotated_key_is_picked_up_by_the_refetch(
    verifier: JwksClerkTokenVerifier, key: SigningKey, server: JwksServer, clock: ManualClock
) -> None:
    await verifier.verify(clerk_token(key, issuer=ISSUER))
    rotated = SigningKey()
    server.keys.append(rotated)
    clock.advance(timedelta(seconds=61))
    identity = await verifier.verify(clerk_token(rotated, issuer=ISSUER, now=clock.now().timestamp()))
    assert identity is not None


async def test_a_jwks_outage_fails_closed(
    verifier: JwksClerkTokenVerifier, key: SigningKey, server: JwksServer
) -> None:
    server.down = True
    with pytest.raises(Unauthenticated):
        await verifier.verify(clerk_token(key, issuer=ISSUER))


async def test_an_unreachable_jwks_fails_closed(key: SigningKey, clock: ManualClock) -> None:
    async with httpx.AsyncClient(timeout=1) as http:
        verifier = JwksClerkTokenVerifier(
            jwks_url="http://127.0.0.1:1/jwks.json",
            issuer=ISSUER,
            authorized_parties=[],
            http=http,
            clock=clock,
        )
        with pytest.raises(Unauthenticated):
            await verifier.verify(clerk_token(key, issuer=ISSUER))


async def test_after_an_outage_the_jwks_is_retried_soon_but_rate_limited(
    verifier: JwksClerkTokenVerifier, key: SigningKey, server: JwksServer, clock: ManualClock
) -> None:
    server.down = True
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await verifier.verify(clerk_token(key, issuer=ISSUER, now=clock.now().timestamp()))
    assert server.fetches == 1
    server.down = False
    clock.advance(timedelta(seconds=6))
    assert await verifier.verify(clerk_token(key, issuer=ISSUER, now=clock.now().timestamp())) is not None
    assert server.fetches == 2
