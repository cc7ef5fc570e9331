"""Arbitrary JSON and bytes, validly signed, never break the webhook parser: an outcome or a 400."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asynccoder.domain.errors import InvalidInput
from tests.support.code_hosting import SECRET, WebhookWorld
from tests.support.github_payloads import (
    FULL_NAME,
    REPO_ID,
    issue_comment_event,
    pull_request_event,
    push_event,
    review_comment_event,
    review_event,
)

EVENTS = [
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "issue_comment",
    "push",
    "repository",
    "member",
    "installation_repositories",
    "ping",
    "star",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

TEMPLATES = [
    pull_request_event(),
    review_event(),
    review_comment_event(),
    issue_comment_event(),
    push_event(),
]
KNOWN_REPOSITORY = st.just({"id": REPO_ID, "full_name": FULL_NAME})


@st.composite
def mutated_payloads(draw: st.DrawFn) -> Any:
    """A documented payload with some fields replaced by arbitrary JSON, still naming the known repository."""
    payload: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    for _ in range(draw(st.integers(0, 4))):
        target = payload
        path = draw(st.lists(st.sampled_from(sorted(_keys(payload))), min_size=1, max_size=1))
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(json_values)
        nested = payload.get(
            draw(st.sampled_from(["pull_request", "comment", "review", "issue", "head_commit"]))
        )
        if isinstance(nested, dict) and nested:
            nested[draw(st.sampled_from(sorted(nested)))] = draw(json_values)
    payload["repository"] = draw(
        KNOWN_REPOSITORY
        | st.builds(
            lambda r, v: {**r, **v},
            KNOWN_REPOSITORY,
            st.dictionaries(st.sampled_from(["pushed_at", "default_branch", "owner", "name"]), json_values),
        )
    )
    return payload


def _keys(payload: dict[str, Any]) -> set[str]:
    return {k for k in payload if k != "repository"} or {"action"}


async def _deliver(world: WebhookWorld, event: str, payload: Any) -> None:
    code: str | None = None
    status: str | None = None
    try:
        status = (await world.deliver(event, payload)).status
    except InvalidInput as exc:
        code = exc.code
    assert code in {None, "webhook_payload_invalid"}
    assert status in {None, "processed", "ignored", "pong", "duplicate"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=st.sampled_from(EVENTS), payload=mutated_payloads())
async def test_mutated_documented_payloads_never_raise_anything_but_a_400(event: str, payload: Any) -> None:
    world = WebhookWorld(app_secret=SECRET)
    await world.seed()
    await _deliver(world, event, payload)


@settings(max_examples=100, deadline=None)
@given(event=st.sampled_from(EVENTS), payload=json_values)
async def test_arbitrary_json_never_raises_anything_but_a_400(event: str, payload: Any) -> None:
    world = WebhookWorld(app_secret=SECRET)
    await world.seed()
    await _deliver(world, event, payload)


@settings(max_examples=100, deadline=None)
@given(event=st.sampled_from(EVENTS), body=st.binary(max_size=200))
async def test_arbitrary_bytes_never_raise_anything_but_a_400(event: str, body: bytes) -> None:
    world = WebhookWorld(app_secret=SECRET)
    await world.seed()
    await _deliver(world, event, body)
