"""Errors raised by business rules.

Every error carries a stable machine ``code`` (lower_snake) that the HTTP layer exposes unchanged, so clients
can branch on it. Messages are safe to show to the caller: they never contain secrets or internals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid input field."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every business-rule violation."""

    code: str = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def public_details(self) -> dict[str, object]:
        """Extra fields safe to show the caller next to ``code`` (e.g. a suggested replacement)."""
        return {}


class InvalidInput(DomainError):
    """The request is well-formed but a value breaks a rule."""

    code = "validation_failed"

    def __init__(
        self, message: str, *, problems: list[FieldProblem] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.problems = problems or []


class NotFound(DomainError):
    """The object does not exist, or the caller may not see it (the two are indistinguishable on purpose)."""

    code = "not_found"


class Conflict(DomainError):
    """The object is in a state that does not allow the operation."""

    code = "conflict"


class Unauthenticated(DomainError):
    """The caller could not be identified."""

    code = "invalid_token"


class Forbidden(DomainError):
    """The caller is identified but lacks a function-level right (e.g. admin)."""

    code = "forbidden"


class Refused(DomainError):
    """A well-formed request that the business rules refuse."""

    code = "refused"


class PaymentRequired(DomainError):
    """The caller lacks the credits the operation needs."""

    code = "insufficient_credits"


class TooManyRequests(DomainError):
    """The caller exceeded a limit; ``retry_after`` seconds until the next attempt may succeed."""

    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: int = 1, limit: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)
        self.limit = limit


class Unavailable(DomainError):
    """A dependency the operation needs is down or saturated (``retry_after``: seconds worth waiting)."""

    code = "dependency_unavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
