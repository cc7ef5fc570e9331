"""Rules for custom model endpoints (OpenAI-compatible base URLs that users or admins supply).

A base URL is accepted when it is an absolute ``https`` URL with a host, no user info, no query or fragment.
Outside production, ``http`` is also accepted for loopback hosts (``localhost``, ``127.0.0.0/8``, ``::1``) so
local model servers work in development. In production the host must not be a private, loopback,
link-local, multicast, reserved or unspecified IP literal, nor ``localhost`` or an internal-looking name.

This check sees the URL only: a public name that resolves to a private address (DNS rebinding) must be
stopped by the egress network policy.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from asynccoder.domain.errors import FieldProblem, InvalidInput

_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
MAX_BASE_URL_LENGTH = 2048

BASE_URL_RULE = (
    "An absolute `https` URL with a host, without user info, query or fragment, at most 2048 characters "
    "(a trailing slash is dropped). Outside production `http` is also allowed for loopback hosts "
    "(`localhost`, `127.0.0.0/8`, `::1`). In production the host must not be a private, loopback, "
    "link-local, multicast, reserved or unspecified IP literal, a legacy numeric form (`2130706433`), "
    "`localhost`, a single-label name (`intranet`) or end in `.internal`, `.local`, `.localhost`, "
    "`.localdomain` or `.home.arpa`. The same rule applies when the endpoint is stored and when it is called."
)


def _refuse(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, problems=[FieldProblem(field, message)], code="invalid_base_url")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_loopback(host: str) -> bool:
    address = _ip(host)
    if address is not None:
        return address.is_loopback
    return host == "localhost" or host.endswith(".localhost")


def _is_non_public(host: str) -> bool:
    address = _ip(host)
    if address is not None:
        return not address.is_global or address.is_multicast
    if host == "localhost" or host.endswith(_INTERNAL_SUFFIXES) or "." not in host:
        return True
    # Legacy numeric forms (``2130706433``, ``0x7f.1``, ``127.1``) that resolvers may still accept.
    return all(part.isdigit() or part.lower().startswith("0x") for part in host.split("."))


def validate_model_base_url(url: str, *, production: bool, field: str = "base_url") -> str:
    """Return the normalised URL (no trailing slash) or raise ``InvalidInput`` (code ``invalid_base_url``)."""
    raw = url.strip()
    if not raw or len(raw) > MAX_BASE_URL_LENGTH or any(c.isspace() or ord(c) < 0x20 for c in raw):
        raise _refuse("must be a URL without spaces or control characters", field)
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError:
        raise _refuse("is not a valid URL", field) from None
    if parts.scheme not in {"https", "http"} or not host:
        raise _refuse("must be an https URL with a host", field)
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise _refuse("must not contain credentials", field)
    if parts.query or parts.fragment:
        raise _refuse("must not have a query or fragment", field)
    if parts.scheme == "http" and (production or not _is_loopback(host)):
        raise _refuse("must use https (http only for a local server in development)", field)
    if production and _is_non_public(host):
        raise _refuse("must point to a public host", field)
    return raw.rstrip("/")


@dataclass(frozen=True, slots=True)
class ModelEndpointPolicy:
    """The base-URL rule of this deployment, the same where an endpoint is stored and where it is called."""

    production: bool

    def validate(self, url: str, *, field: str = "base_url") -> str:
        return validate_model_base_url(url, production=self.production, field=field)
