"""What the list twins share with the product: the same JWT check and the same SQL result."""

from __future__ import annotations

import os
import uuid
from typing import Any

import jwt

JWT_SECRET = os.environ.get("JWT_SECRET", "")
JWT_ISSUER = os.environ.get("JWT_ISSUER", "asynccoder")
JWT_AUDIENCE = os.environ.get("JWT_AUDIENCE", "asynccoder-api")
REQUIRED = ["exp", "iat", "nbf", "sub", "iss", "aud", "typ", "jti"]


class Unauthorized(Exception):
    pass


def user_id_from(authorization: str | None) -> uuid.UUID:
    """The product's access-token rules: HS256 only, issuer, audience, required claims, typ=access."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized
    try:
        claims: dict[str, Any] = jwt.decode(
            authorization[7:],
            JWT_SECRET,
            algorithms=["HS256"],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            leeway=30,
            options={"require": REQUIRED},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized from exc
    if claims.get("typ") != "access":
        raise Unauthorized
    return uuid.UUID(claims["sub"])


# The caller lookup (the user must exist and be active) and the product's list query, column for column.
USER_SQL = "SELECT id, role, status FROM users WHERE id = %s"
LIST_SQL = """
SELECT r.id, r.host, r.full_name, r.default_branch, r.visibility, r.html_url, r.auto_review,
       r.default_model_id, r.default_base_branch, r.head_sha, r.last_pushed_at, r.created_at, r.updated_at,
       a.permission AS access_permission,
       EXISTS (SELECT 1 FROM repository_webhooks w WHERE w.repository_id = r.id) AS has_webhook,
       r.test_command
FROM repositories r JOIN user_repository_access a ON a.repository_id = r.id
WHERE a.user_id = %s
ORDER BY r.id DESC
LIMIT %s
"""
PAGE = 20


def database_dsn() -> str:
    """DATABASE_URL as the product reads it, turned into a libpq DSN."""
    return os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
