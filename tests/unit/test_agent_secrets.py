"""Secret scanning: known secrets (also encoded), common token shapes, redacted excerpts only."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccoder.domain.agent.secrets import REDACTED, describe_findings, redact, scan_text, scan_texts

USER_KEY = "my-own-provider-key-0123456789"

SAMPLES = {
    "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "github_token": "ghp_" + "a1B2" * 9,
    "anthropic_key": "sk-ant-api03-" + "Zx9_" * 10,
    "openai_key": "sk-proj-" + "Qw3rTy" * 6,
    "stripe_key": "sk_live_" + "51Hx" * 6,
    "slack_token": "xoxb-1234567890-abcdefghij",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "asynccoder_token": "acp_" + "A" * 43,
    "asynccoder_refresh_token": "rt_" + "b-" * 21 + "c",
}


@pytest.mark.parametrize(("kind", "secret"), sorted(SAMPLES.items()))
def test_common_secret_shapes_are_found_and_never_shown(kind: str, secret: str) -> None:
    text = f"line one\nconfig: {secret} # here\n"
    (finding,) = scan_text(text, source="diff")
    assert finding.kind == kind
    assert finding.line == 2
    assert REDACTED in finding.excerpt
    assert secret not in finding.excerpt
    assert secret not in describe_findings([finding])


@pytest.mark.parametrize(
    "text",
    [
        "def risky(): pass",
        "the task-ask mode and skeleton",
        "sk-short",
        "AKIA_not_a_key",
        "gho_short",
        "art_" + "A" * 43,
    ],
)
def test_ordinary_text_is_not_a_secret(text: str) -> None:
    assert scan_text(text, source="diff") == ()


def test_a_known_secret_is_found_verbatim_url_encoded_and_base64_encoded() -> None:
    secret = "p@ss/w0rd+with=odd&chars!"
    encoded = base64.b64encode(f"user:{secret}".encode()).decode()
    text = f"a = '{secret}'\nb = '{quote(secret, safe='')}'\nAuthorization: Basic {encoded}\n"
    findings = scan_text(text, source="commit message", known_secrets=[secret])
    assert [f.line for f in findings] == [1, 2, 3]
    assert {f.kind for f in findings} == {"known_secret", "known_secret_url_encoded", "known_secret_base64"}
    for finding in findings:
        assert secret not in finding.excerpt
        assert quote(secret, safe="") not in finding.excerpt
        assert encoded not in finding.excerpt


@given(st.binary(max_size=5), st.binary(max_size=5))
def test_a_known_secret_is_found_inside_any_base64_blob(before: bytes, after: bytes) -> None:
    blob = base64.b64encode(before + USER_KEY.encode() + after).decode()
    findings = scan_text(f"data: {blob}", source="diff", known_secrets=[USER_KEY])
    assert findings
    assert all(USER_KEY not in f.excerpt for f in findings)


def test_redact_replaces_every_secret_and_keeps_the_rest() -> None:
    text = f"key={USER_KEY} token={SAMPLES['github_token']} ok"
    assert redact(text, [USER_KEY]) == f"key={REDACTED} token={REDACTED} ok"


def test_a_long_line_gives_a_short_excerpt() -> None:
    text = "x" * 500 + " " + SAMPLES["stripe_key"] + " " + "y" * 500
    (finding,) = scan_text(text, source="review comment")
    assert len(finding.excerpt) < 160
    assert finding.excerpt.startswith("...")
    assert finding.excerpt.endswith("...")


def test_several_texts_are_scanned_with_their_sources() -> None:
    findings = scan_texts(
        [("diff", "+token = " + SAMPLES["github_token"]), ("pull request body", f"see {USER_KEY}")],
        known_secrets=[USER_KEY],
    )
    assert [(f.source, f.kind) for f in findings] == [
        ("diff", "github_token"),
        ("pull request body", "known_secret"),
    ]
    message = describe_findings(findings)
    assert message.startswith("Blocked: 2 possible secret(s)")
    assert USER_KEY not in message
