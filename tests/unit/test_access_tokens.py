"""Access JWTs: pinned algorithm, required claims, type, time from the clock."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.domain.errors import Unauthenticated
from tests.support.builders import T0, make_user

SECRET = "s" * 40
service = JwtAccessTokenService(
    secret=SECRET, issuer="asynccoder", audience="asynccoder-api", ttl=timedelta(minutes=15)
)


def _claims(**overrides: Any) -> dict[str, Any]:
    user = make_user()
    base: dict[str, Any] = {
        "iss": "asynccoder",
        "aud": "asynccoder-api",
        "sub": str(user.id),
        "role": "user",
        "typ": "access",
        "iat": int(T0.timestamp()),
        "nbf": int(T0.timestamp()),
        "exp": int((T0 + timedelta(minutes=15)).timestamp()),
        "jti": "abc",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_an_issued_token_verifies_to_its_user() -> None:
    user = make_user()
    issued = service.issue(user, now=T0)
    claims = service.verify(issued.token, now=T0 + timedelta(minutes=1))
    assert claims is not None
    assert claims.user_id == user.id
    assert issued.expires_at == T0 + timedelta(minutes=15)


def test_alg_none_is_rejected() -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    with pytest.raises(Unauthenticated):
        service.verify(token, now=T0)


def test_a_token_signed_with_another_key_is_rejected() -> None:
    token = jwt.encode(_claims(), "x" * 40, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        service.verify(token, now=T0)


@pytest.mark.parametrize("missing", ["exp", "sub", "iss", "aud", "iat", "typ"])
def test_a_token_missing_a_required_claim_is_rejected(missing: str) -> None:
    token = jwt.encode(_claims(**{missing: None}), SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        service.verify(token, now=T0)


def test_a_token_for_another_audience_is_rejected() -> None:
    token = jwt.encode(_claims(aud="someone-else"), SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        service.verify(token, now=T0)


def test_expiry_is_enforced_beyond_the_leeway_only() -> None:
    token = service.issue(make_user(), now=T0).token
    assert service.verify(token, now=T0 + timedelta(minutes=15, seconds=29)) is not None
    with pytest.raises(Unauthenticated) as caught:
        service.verify(token, now=T0 + timedelta(minutes=15, seconds=61))
    assert caught.value.code == "token_expired"


def test_a_refresh_typed_token_is_not_an_access_token() -> None:
    token = jwt.encode(_claims(typ="refresh"), SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        service.verify(token, now=T0)


def test_an_rs256_token_from_another_issuer_is_left_to_other_verifiers() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(iss="https://clerk.example"), key, algorithm="RS256")
    assert service.verify(token, now=T0) is None


def test_an_rs256_token_claiming_our_issuer_is_rejected() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), key, algorithm="RS256")
    with pytest.raises(Unauthenticated):
        service.verify(token, now=T0)


def test_a_non_jwt_credential_is_left_to_other_verifiers() -> None:
    assert service.verify("acp_personal_access_token", now=T0) is None


def test_a_token_issued_in_the_future_beyond_the_leeway_is_rejected() -> None:
    future = _claims(iat=int((T0 + timedelta(hours=1)).timestamp()))
    with pytest.raises(Unauthenticated):
        service.verify(jwt.encode(future, SECRET, algorithm="HS256"), now=T0)
    within_leeway = _claims(iat=int((T0 + timedelta(seconds=29)).timestamp()))
    assert service.verify(jwt.encode(within_leeway, SECRET, algorithm="HS256"), now=T0) is not None
