"""The GitHub webhook endpoint over HTTP: signatures, dedupe, concurrency, fuzzing, reading the results."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient, TestClient

from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.domain.code_hosting import Permission
from asynccoder.entrypoints.http.app import create_app
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.support.builders import make_user
from tests.support.code_hosting import SECRET, access_token, in_database, seed_repository, signed
from tests.support.databases import Databases
from tests.support.github_payloads import (
    FULL_NAME,
    REPO_ID,
    issue_comment_event,
    pull_request_event,
    review_comment_event,
    review_event,
)

URL = "/api/v1/webhooks/github"


@dataclasses.dataclass
class World:
    client: AsyncTestClient[Any]
    settings: Settings
    repository_id: uuid.UUID
    owner: dict[str, str]
    stranger: dict[str, str]


@pytest.fixture
async def world(client_factory: ClientFactory, backend_settings: Settings) -> AsyncIterator[World]:
    settings = dataclasses.replace(backend_settings, code_host="github")
    owner, stranger = make_user(), make_user()

    async def seed(uow: Any) -> Any:
        repo = await seed_repository(uow, users=[(owner, Permission.ADMIN)])
        async with uow:
            await uow.users.add(stranger)
            await uow.repositories.update(
                repo.with_settings(
                    auto_review=True, default_model_id=None, default_base_branch=None, now=repo.updated_at
                )
            )
            await uow.commit()
        return repo

    repo = await in_database(settings, seed)
    async with client_factory(settings) as client:
        yield World(
            client,
            settings,
            repo.id,
            {"Authorization": f"Bearer {access_token(settings, owner)}"},
            {"Authorization": f"Bearer {access_token(settings, stranger)}"},
        )


def headers(event: str, signature: str | None, delivery: str | None = None) -> dict[str, str]:
    values = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Hook-ID": "292430182",
    }
    if signature is not None:
        values["X-Hub-Signature-256"] = signature
    return values


async def post(world: World, event: str, payload: Any, *, delivery: str | None = None) -> Any:
    body, signature = signed(payload)
    return await world.client.post(URL, content=body, headers=headers(event, signature, delivery))


async def count(settings: Settings, table: str) -> int:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())
    finally:
        await engine.dispose()


async def test_deliveries_become_pull_requests_with_reviews_and_comments(world: World) -> None:
    for event, payload in [
        ("pull_request", pull_request_event("opened")),
        ("pull_request_review", review_event()),
        ("pull_request_review_comment", review_comment_event()),
        ("pull_request_review_comment", review_comment_event(comment_id=3, side="LEFT", lines=(1, 3))),
        ("issue_comment", issue_comment_event()),
    ]:
        response = await post(world, event, payload)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "processed"

    listing = await world.client.get(f"/api/v1/repositories/{world.repository_id}/pulls", headers=world.owner)
    [pull] = listing.json()["items"]
    detail = (await world.client.get(f"/api/v1/pulls/{pull['id']}", headers=world.owner)).json()

    assert pull["number"] == 1347
    assert pull["state"] == "open"
    assert [r["state"] for r in detail["reviews"]] == ["approved"]
    assert sorted(
        (c["kind"], c["github_comment_id"], c["side"], c["start_line"], c["line"]) for c in detail["comments"]
    ) == [
        ("issue_comment", 444, None, None, None),
        ("review_comment", 2, "RIGHT", None, 1),
        ("review_comment", 3, "LEFT", 1, 3),  # a re-review tells the removed lines 1-3 from the new ones
    ]
    assert await count(world.settings, "repository_events") == 1  # auto-review queued for later


async def test_a_stranger_gets_404_for_the_pull_requests(world: World) -> None:
    await post(world, "pull_request", pull_request_event("opened"))
    [pull] = (
        await world.client.get(f"/api/v1/repositories/{world.repository_id}/pulls", headers=world.owner)
    ).json()["items"]
    assert (await world.client.get(f"/api/v1/pulls/{pull['id']}", headers=world.stranger)).status_code == 404
    listing = await world.client.get(
        f"/api/v1/repositories/{world.repository_id}/pulls", headers=world.stranger
    )
    assert listing.status_code == 404


async def test_pull_requests_are_paginated_and_filtered(world: World) -> None:
    for number in (1, 2, 3):
        await post(world, "pull_request", pull_request_event("opened", number=number))
    await post(
        world,
        "pull_request",
        pull_request_event(
            "closed", number=2, state="closed", merged=True, updated_at="2026-11-30T13:00:00Z"
        ),
    )
    base = f"/api/v1/repositories/{world.repository_id}/pulls"
    first = (await world.client.get(base, params={"limit": 2}, headers=world.owner)).json()
    second = (
        await world.client.get(base, params={"limit": 2, "cursor": first["next_cursor"]}, headers=world.owner)
    ).json()
    merged = (await world.client.get(base, params={"state": "merged"}, headers=world.owner)).json()

    assert [p["number"] for p in first["items"]] == [3, 2]
    assert [p["number"] for p in second["items"]] == [1]
    assert second["next_cursor"] is None
    assert [p["number"] for p in merged["items"]] == [2]
    bad = await world.client.get(base, params={"cursor": "nope"}, headers=world.owner)
    assert bad.status_code == 400


async def test_a_one_byte_change_is_400_and_writes_nothing(world: World) -> None:
    body, signature = signed(pull_request_event())
    tampered = body.replace(b"Amazing", b"Amazinh", 1)
    response = await world.client.post(URL, content=tampered, headers=headers("pull_request", signature))
    assert response.status_code == 400
    assert response.json()["code"] == "webhook_signature_invalid"
    assert await count(world.settings, "pull_requests") == 0
    assert await count(world.settings, "github_deliveries") == 0


async def test_a_missing_signature_is_400_and_writes_nothing(world: World) -> None:
    body, _ = signed(pull_request_event())
    response = await world.client.post(URL, content=body, headers=headers("pull_request", None))
    assert response.status_code == 400
    assert response.json()["code"] == "webhook_signature_missing"
    assert await count(world.settings, "github_deliveries") == 0


async def test_a_wrong_secret_is_400(world: World) -> None:
    body, signature = signed(pull_request_event(), secret="guess")
    response = await world.client.post(URL, content=body, headers=headers("pull_request", signature))
    assert response.status_code == 400


async def test_a_redelivery_is_acknowledged_as_a_duplicate(world: World) -> None:
    first = await post(world, "pull_request", pull_request_event(), delivery="e3b0c442")
    again = await post(world, "pull_request", pull_request_event(), delivery="e3b0c442")
    assert first.json()["status"] == "processed"
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert await count(world.settings, "repository_events") == 1


async def test_unknown_events_get_2xx(world: World) -> None:
    payload = {"action": "started", "repository": {"id": REPO_ID, "full_name": FULL_NAME}}
    response = await post(world, "watch", payload)
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"


async def test_an_unknown_repository_gets_202_and_nothing_is_written(world: World) -> None:
    payload = pull_request_event()
    payload["repository"] = {"id": 999, "full_name": "someone/else"}
    response = await post(world, "pull_request", payload)
    assert response.status_code == 202
    assert await count(world.settings, "github_deliveries") == 0


async def test_with_the_app_secret_an_unknown_repository_gets_202_and_no_row(
    client_factory: ClientFactory, world: World
) -> None:
    settings = dataclasses.replace(world.settings, github_webhook_secret="app-secret-0123456789")
    payload = pull_request_event()
    payload["repository"] = {"id": 999, "full_name": "someone/else"}
    body, signature = signed(payload, "app-secret-0123456789")
    async with client_factory(settings) as client:
        response = await client.post(URL, content=body, headers=headers("pull_request", signature))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "ignored"
    assert await count(world.settings, "github_deliveries") == 0


async def test_a_signed_body_of_another_event_under_a_forged_event_header_is_400(world: World) -> None:
    label_deleted = {
        "action": "deleted",
        "label": {"id": 208045946, "name": "bug", "color": "f29513", "default": True, "description": None},
        "repository": pull_request_event()["repository"],
        "sender": pull_request_event()["sender"],
    }
    response = await post(world, "repository", label_deleted)
    assert response.status_code == 400
    assert response.json()["code"] == "webhook_payload_invalid"
    assert await count(world.settings, "github_deliveries") == 0
    listing = await world.client.get("/api/v1/repositories", headers=world.owner)
    assert [r["id"] for r in listing.json()["items"]] == [str(world.repository_id)]


async def test_the_webhook_needs_no_bearer_token(world: World) -> None:
    body, signature = signed(
        {"zen": "Design for failure.", "repository": {"id": REPO_ID, "full_name": FULL_NAME}}
    )
    response = await world.client.post(URL, content=body, headers=headers("ping", signature))
    assert response.status_code == 200
    assert response.json()["status"] == "pong"


@pytest.mark.postgres
async def test_the_same_delivery_posted_ten_times_concurrently_is_recorded_once(
    client_factory: ClientFactory, databases: Databases
) -> None:
    await databases.clean_engine("postgres")
    from tests.support.app import make_settings

    settings = make_settings(database_url=databases.url("postgres"), code_host="github")
    owner = make_user()

    async def seed(uow: Any) -> Any:
        repo = await seed_repository(uow, users=[(owner, Permission.ADMIN)])
        async with uow:
            await uow.repositories.update(
                repo.with_settings(
                    auto_review=True, default_model_id=None, default_base_branch=None, now=repo.updated_at
                )
            )
            await uow.commit()

    await in_database(settings, seed)
    body, signature = signed(pull_request_event("opened"))
    async with client_factory(settings) as client:
        responses = await asyncio.gather(
            *(
                client.post(URL, content=body, headers=headers("pull_request", signature, "same-delivery"))
                for _ in range(10)
            )
        )
    statuses = sorted(r.json()["status"] for r in responses)
    assert all(r.status_code == 200 for r in responses)
    assert statuses == ["duplicate"] * 9 + ["processed"]
    assert await count(settings, "github_deliveries") == 1
    assert await count(settings, "pull_requests") == 1
    assert await count(settings, "repository_events") == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=15,
)
FIELDS = [
    "number",
    "title",
    "body",
    "state",
    "user",
    "head",
    "base",
    "updated_at",
    "merged_at",
    "draft",
    "id",
]


@st.composite
def hostile_pull_requests(draw: st.DrawFn) -> bytes:
    payload = pull_request_event(draw(st.sampled_from(["opened", "closed", "synchronize", "edited", "x"])))
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        payload["pull_request"][field] = draw(json_values | st.just("\x00\ud800" + "x" * 3000))
    if draw(st.booleans()):
        payload[draw(st.sampled_from(["action", "number", "sender"]))] = draw(json_values)
    if draw(st.integers(0, 4)) == 0:
        # No id: the repository is looked up by a hostile name (NUL, lone surrogate, overlong).
        payload["repository"] = {
            "full_name": draw(st.text(max_size=20)) + draw(st.sampled_from(["\x00", "\ud800", "x" * 500]))
        }
    return json.dumps(payload).encode()


@pytest.fixture
async def fuzz_settings(backend_settings: Settings) -> Settings:
    configured = dataclasses.replace(backend_settings, code_host="github", github_webhook_secret=SECRET)
    await in_database(configured, lambda uow: seed_repository(uow, users=[(make_user(), Permission.ADMIN)]))
    return configured


@pytest.mark.slow
def test_fuzzed_signed_payloads_never_get_a_5xx(fuzz_settings: Settings) -> None:
    with TestClient(create_app(fuzz_settings), base_url="http://testserver.local") as client:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            event=st.sampled_from(
                ["pull_request", "issue_comment", "push", "member", "repository", "pull_request_review"]
            ),
            body=hostile_pull_requests()
            | json_values.map(lambda v: json.dumps(v).encode())
            | st.binary(max_size=100),
        )
        def probe(event: str, body: bytes) -> None:
            _, signature = signed(body)
            response = client.post(URL, content=body, headers=headers(event, signature))
            assert response.status_code < 500, response.text

        probe()


async def test_a_non_ascii_signature_header_is_400(world: World) -> None:
    body, _ = signed(pull_request_event())
    raw_headers = headers("pull_request", None)
    raw_headers["X-Hub-Signature-256"] = "sha256=" + "é" * 64
    response = await world.client.post(
        URL, content=body, headers={k: v.encode("latin-1") for k, v in raw_headers.items()}
    )
    assert response.status_code == 400


async def test_a_delivery_larger_than_the_api_body_limit_is_still_accepted(world: World) -> None:
    """GitHub sends up to 25 MB; the API-wide limit (1 MiB by default) must not cut a large delivery off."""
    payload = pull_request_event("opened")
    payload["pull_request"]["body"] = "x" * (2 * 1024 * 1024)
    response = await post(world, "pull_request", payload)
    assert response.status_code == 200, response.text
    other = await world.client.post(
        "/api/v1/auth/login",
        content=b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'@example.com", "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert other.status_code == 413
