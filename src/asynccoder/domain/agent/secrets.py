"""Secret scanning before anything leaves the platform (a push, a comment, a review, a result).

Two kinds of evidence: exact occurrences of secrets we know (the user's stored keys and tokens, the
platform's own), also in their base64 and URL-encoded forms, and well-known token shapes (cloud, code host,
AI provider, payment and chat tokens, private key blocks, JWTs, our own ``acp_``/``rt_`` tokens). A finding
carries a redacted excerpt only: the secret itself never appears in a finding, an error or a log line.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

REDACTED = "[REDACTED]"
_MIN_KNOWN_LENGTH = 8  # shorter "secrets" would match everywhere
_MIN_ENCODED_CORE = 16
_EXCERPT_RADIUS = 60


@dataclass(frozen=True, slots=True)
class SecretPattern:
    kind: str
    regex: re.Pattern[str]


def _p(kind: str, pattern: str, flags: int = 0) -> SecretPattern:
    return SecretPattern(kind, re.compile(pattern, flags))


# Order matters only for overlapping matches: the first pattern that claims a span names it.
PATTERNS: tuple[SecretPattern, ...] = (
    _p("private_key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    _p("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    _p(
        "aws_secret_access_key",
        r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])",
    ),
    _p("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
    _p("github_token", r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),
    _p("anthropic_key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
    _p("openai_key", r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
    _p("stripe_key", r"\b(?:sk|rk)_live_[A-Za-z0-9]{16,}\b"),
    _p("stripe_webhook_secret", r"\bwhsec_[A-Za-z0-9]{24,}\b"),
    _p("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    _p("slack_webhook", r"https://hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+"),
    _p("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    _p("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    _p("asynccoder_token", r"(?<![A-Za-z0-9_-])acp_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
    _p("asynccoder_refresh_token", r"(?<![A-Za-z0-9_-])rt_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
)


@dataclass(frozen=True, slots=True)
class SecretFinding:
    kind: str  # a pattern's kind, or "known_secret" for an exact match of a stored secret
    source: str  # what was scanned: "diff", "commit message", "review comment", ...
    line: int  # 1-based line of ``source``
    excerpt: str  # the line around the match with every secret replaced by [REDACTED]


def _base64_cores(value: bytes) -> set[str]:
    """The parts of base64 text that are fixed whenever ``value`` sits anywhere inside encoded data.

    The value can start at any of three byte offsets of a base64 group; for each, the characters that mix
    bits of neighbouring bytes are dropped, leaving a core that must appear verbatim.
    """
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + value).decode()
        skip = (0, 2, 3)[offset]
        end = len(encoded)
        if (offset + len(value)) % 3:
            end -= 4  # the last group is padded: it depends on what follows
        core = encoded[skip:end]
        if len(core) >= _MIN_ENCODED_CORE:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


def _needles(known: Iterable[str]) -> list[tuple[str, str]]:
    needles: dict[str, str] = {}
    for secret in known:
        if not secret or len(secret) < _MIN_KNOWN_LENGTH:
            continue
        needles.setdefault(secret, "known_secret")
        quoted = quote(secret, safe="")
        if quoted != secret:
            needles.setdefault(quoted, "known_secret_url_encoded")
        for core in _base64_cores(secret.encode()):
            needles.setdefault(core, "known_secret_base64")
    # Longest first, so that an encoded form containing a shorter needle is claimed whole.
    return sorted(needles.items(), key=lambda item: (-len(item[0]), item[0]))


def _spans(text: str, needles: list[tuple[str, str]]) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for needle, kind in needles:
        start = text.find(needle)
        while start != -1:
            spans.append((start, start + len(needle), kind))
            start = text.find(needle, start + 1)
    for pattern in PATTERNS:
        for match in pattern.regex.finditer(text):
            spans.append((match.start(), match.end(), pattern.kind))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, kind))
    return merged


def redact(text: str, known_secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret (and encoded form) and every secret-shaped token replaced."""
    spans = _spans(text, _needles(known_secrets))
    out: list[str] = []
    position = 0
    for start, end, _ in spans:
        out.append(text[position:start])
        out.append(REDACTED)
        position = end
    out.append(text[position:])
    return "".join(out)


def scan_text(text: str, *, source: str, known_secrets: Iterable[str] = ()) -> tuple[SecretFinding, ...]:
    """Every secret in ``text``, in order, each with a redacted one-line excerpt."""
    needles = _needles(known_secrets)
    spans = _spans(text, needles)
    findings: list[SecretFinding] = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    for start, end, kind in spans:
        line_index = _line_of(line_starts, start)
        line_start = line_starts[line_index]
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end
        window_start = max(line_start, start - _EXCERPT_RADIUS)
        window_end = min(line_end, end + _EXCERPT_RADIUS)
        # The window is widened to whole spans so that no part of a secret survives at its edges.
        for other_start, other_end, _ in spans:
            if other_start < window_start < other_end:
                window_start = other_start
            if other_start < window_end < other_end:
                window_end = other_end
        excerpt = redact(text[window_start:window_end], [text[s:e] for s, e, _ in spans])
        prefix = "..." if window_start > line_start else ""
        suffix = "..." if window_end < line_end else ""
        findings.append(SecretFinding(kind, source, line_index + 1, f"{prefix}{excerpt.strip()}{suffix}"))
    return tuple(findings)


def _line_of(line_starts: list[int], offset: int) -> int:
    low, high = 0, len(line_starts) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if line_starts[mid] <= offset:
            low = mid
        else:
            high = mid - 1
    return low


def scan_texts(
    texts: Iterable[tuple[str, str]], *, known_secrets: Iterable[str] = ()
) -> tuple[SecretFinding, ...]:
    """Scans ``(source, text)`` pairs, e.g. the diff, the commit message and the PR body before a push."""
    known = tuple(known_secrets)
    found: list[SecretFinding] = []
    for source, text in texts:
        found.extend(scan_text(text, source=source, known_secrets=known))
    return tuple(found)


def describe_findings(findings: Iterable[SecretFinding], *, limit: int = 10) -> str:
    """A failure message naming where secrets were found, with redacted excerpts only."""
    items = list(findings)
    lines = [f"Blocked: {len(items)} possible secret(s) found; nothing was pushed or posted."]
    for finding in items[:limit]:
        lines.append(f"- {finding.kind} in {finding.source}, line {finding.line}: {finding.excerpt}")
    if len(items) > limit:
        lines.append(f"- ... and {len(items) - limit} more")
    return "\n".join(lines)
