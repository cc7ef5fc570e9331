"""Connecting repositories, their settings, and the platform's own pull-request actions (in memory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

import pytest

from asynccoder.adapters.memory.code_hosting import InMemoryCodeHost
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.code_hosting.pull_requests import (
    GetPullRequest,
    GetPullRequestInput,
    ListPullRequests,
    ListPullRequestsInput,
    OpenPullRequest,
    OpenPullRequestInput,
    PostPullRequestReview,
    PostReviewInput,
)
from asynccoder.application.code_hosting.repositories import (
    CodeHostingConfig,
    ConnectRepository,
    ConnectRepositoryInput,
    DisconnectRepository,
    DisconnectRepositoryInput,
    GetRepository,
    GetRepositoryInput,
    ListConnectableRepositories,
    ListConnectableRepositoriesInput,
    ListRepositories,
    ListRepositoriesInput,
    UpdateRepositorySettings,
    UpdateRepositorySettingsInput,
    UserTokens,
)
from asynccoder.application.ports.code_hosting import InlineComment
from asynccoder.domain.code_hosting import Permission, PullRequestState
from asynccoder.domain.errors import Forbidden, InvalidInput, NotFound, Refused, TooManyRequests
from asynccoder.domain.identity import (
    Actor,
    User,
)
from tests.support.ai_catalogue_builders import make_model
from tests.support.builders import T0, make_user, new_id
from tests.support.code_hosting import BOX, add_user_with_github
from tests.support.system import ManualClock, SequentialIdGenerator

WEBHOOK_URL = "https://coder.example.com/api/v1/webhooks/github"


@dataclass
class App:
    store: InMemoryStore = field(default_factory=InMemoryStore)
    host: InMemoryCodeHost = field(default_factory=InMemoryCodeHost)
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    ids: SequentialIdGenerator = field(default_factory=lambda: SequentialIdGenerator(start=9_000_000))

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def tokens(self) -> UserTokens:
        return UserTokens(self.uow(), BOX, self.host)

    def connect(self) -> ConnectRepository:
        return ConnectRepository(
            self.uow(), self.host, self.tokens(), BOX, self.clock, self.ids, CodeHostingConfig(WEBHOOK_URL)
        )

    async def user(self, token: str | None) -> Actor:
        user: User = make_user()
        if token is None:
            async with self.uow() as uow:
                await uow.users.add(user)
                await uow.commit()
        else:
            await add_user_with_github(self.uow(), user, token, f"login-{token}")
            self.host.add_token(token)
        return user.as_actor()


@pytest.fixture
async def app() -> App:
    app = App()
    app.host.add_repository(
        "acme/widgets",
        host_id=77,
        access={"t-ada": Permission.ADMIN, "t-bob": Permission.READ, "t-wes": Permission.WRITE},
        branches={"main": "a" * 40, "topic": "b" * 40},
    )
    return app


async def test_connecting_mirrors_the_permission_and_registers_one_webhook(app: App) -> None:
    ada = await app.user("t-ada")
    result = await app.connect()(ConnectRepositoryInput(ada, "acme/widgets"))

    assert result.created
    assert result.view.permission is Permission.ADMIN
    assert result.view.webhook_active
    [hook] = app.host.hooks.values()
    assert hook.registration.url == WEBHOOK_URL
    stored = app.store.state.code_hosting.webhooks[result.view.repository.id]
    assert stored.host_hook_id == hook.id
    assert hook.registration.secret not in stored.sealed_secret


async def test_a_reader_connects_without_a_webhook_and_an_admin_adds_it_later(app: App) -> None:
    bob, ada = await app.user("t-bob"), await app.user("t-ada")
    first = await app.connect()(ConnectRepositoryInput(bob, "acme/widgets"))
    assert not first.view.webhook_active
    second = await app.connect()(ConnectRepositoryInput(ada, "acme/widgets"))
    assert not second.created
    assert second.view.repository.id == first.view.repository.id
    assert second.view.webhook_active
    assert len(app.host.hooks) == 1


async def test_reconnecting_refreshes_the_callers_level(app: App) -> None:
    bob = await app.user("t-bob")
    result = await app.connect()(ConnectRepositoryInput(bob, "acme/widgets"))
    app.host.repositories["acme/widgets"].access["t-bob"] = Permission.WRITE
    again = await app.connect()(ConnectRepositoryInput(bob, "acme/widgets"))
    assert again.view.permission is Permission.WRITE
    assert again.view.repository.id == result.view.repository.id


async def test_a_bad_identifier_is_refused_before_github_is_asked(app: App) -> None:
    ada = await app.user("t-ada")
    app.host.down = True
    with pytest.raises(InvalidInput):
        await app.connect()(ConnectRepositoryInput(ada, "acme/../etc"))


async def test_without_a_github_connection_connecting_is_refused(app: App) -> None:
    nobody = await app.user(None)
    with pytest.raises(Refused) as caught:
        await app.connect()(ConnectRepositoryInput(nobody, "acme/widgets"))
    assert caught.value.code == "github_not_connected"


async def test_rate_limits_are_passed_on(app: App) -> None:
    ada = await app.user("t-ada")
    app.host.rate_limited_for = 120
    with pytest.raises(TooManyRequests) as caught:
        await app.connect()(ConnectRepositoryInput(ada, "acme/widgets"))
    assert caught.value.retry_after == 120


async def test_a_failed_webhook_registration_keeps_the_connection_and_frees_the_slot(app: App) -> None:
    ada = await app.user("t-ada")
    app.host.fail_webhooks = True
    result = await app.connect()(ConnectRepositoryInput(ada, "acme/widgets"))
    assert not result.view.webhook_active
    assert app.store.state.code_hosting.webhooks == {}
    app.host.fail_webhooks = False
    assert (await app.connect()(ConnectRepositoryInput(ada, "acme/widgets"))).view.webhook_active


async def test_connectable_repositories_are_listed_page_by_page(app: App) -> None:
    app.host.add_repository("acme/gears", host_id=78, access={"t-ada": Permission.WRITE})
    ada = await app.user("t-ada")
    lister = ListConnectableRepositories(app.host, app.tokens())
    first = await lister(ListConnectableRepositoriesInput(ada, page=1, per_page=1))
    second = await lister(ListConnectableRepositoriesInput(ada, page=2, per_page=1))
    assert [r.full_name for r in first.items + second.items] == ["acme/widgets", "acme/gears"]
    assert first.next_page == 2
    assert second.next_page is None


async def test_listing_connected_repositories_pages_newest_first(app: App) -> None:
    for n in range(3):
        app.host.add_repository(f"acme/r{n}", host_id=100 + n, access={"t-ada": Permission.READ})
    ada = await app.user("t-ada")
    for n in range(3):
        await app.connect()(ConnectRepositoryInput(ada, f"acme/r{n}"))
    lister = ListRepositories(app.uow())
    first = await lister(ListRepositoriesInput(ada, limit=2))
    rest = await lister(ListRepositoriesInput(ada, limit=2, cursor=first.next_cursor))
    assert [r.repository.full_name for r in first.items] == ["acme/r2", "acme/r1"]
    assert [r.repository.full_name for r in rest.items] == ["acme/r0"]
    assert rest.next_cursor is None
    with pytest.raises(InvalidInput):
        await lister(ListRepositoriesInput(ada, limit=101))


async def connected(app: App, *tokens: str) -> tuple[UUID, list[Actor]]:
    actors = [await app.user(t) for t in tokens]
    repo_id: UUID | None = None
    for actor in actors:
        repo_id = (await app.connect()(ConnectRepositoryInput(actor, "acme/widgets"))).view.repository.id
    assert repo_id is not None
    return repo_id, actors


async def test_someone_elses_repository_is_not_found(app: App) -> None:
    repo_id, _ = await connected(app, "t-ada")
    stranger = await app.user("t-zed")
    with pytest.raises(NotFound):
        await GetRepository(app.uow())(GetRepositoryInput(stranger, repo_id))
    with pytest.raises(NotFound):
        await DisconnectRepository(app.uow(), app.host, app.tokens())(
            DisconnectRepositoryInput(stranger, repo_id)
        )
    with pytest.raises(NotFound):
        await ListPullRequests(app.uow())(ListPullRequestsInput(stranger, repo_id))


async def test_settings_need_write_access(app: App) -> None:
    repo_id, (ada, bob, wes) = await connected(app, "t-ada", "t-bob", "t-wes")
    update = UpdateRepositorySettings(app.uow(), app.clock)
    with pytest.raises(Forbidden) as caught:
        await update(UpdateRepositorySettingsInput(bob, repo_id, True, None, None))
    assert caught.value.code == "insufficient_repository_access"
    view = await update(UpdateRepositorySettingsInput(wes, repo_id, True, None, "develop"))
    assert view.repository.auto_review
    assert view.repository.base_branch == "develop"
    with pytest.raises(InvalidInput):
        await update(UpdateRepositorySettingsInput(ada, repo_id, True, None, "-x"))


async def test_the_default_model_must_be_an_enabled_catalogue_model(app: App) -> None:
    repo_id, (ada,) = await connected(app, "t-ada")
    enabled, disabled = make_model(), make_model(enabled=False)
    app.store.state.ai_catalogue.models[enabled.id] = enabled
    app.store.state.ai_catalogue.models[disabled.id] = disabled
    update = UpdateRepositorySettings(app.uow(), app.clock)

    view = await update(UpdateRepositorySettingsInput(ada, repo_id, False, enabled.id, None))
    assert view.repository.default_model_id == enabled.id
    for unusable in (disabled.id, new_id()):
        with pytest.raises(InvalidInput) as caught:
            await update(UpdateRepositorySettingsInput(ada, repo_id, False, unusable, None))
        assert caught.value.code == "unknown_model"


async def test_the_last_user_leaving_removes_the_webhook_best_effort(app: App) -> None:
    repo_id, (ada, bob) = await connected(app, "t-ada", "t-bob")
    disconnect = DisconnectRepository(app.uow(), app.host, app.tokens())
    await disconnect(DisconnectRepositoryInput(ada, repo_id))
    assert len(app.host.hooks) == 1  # bob still uses it
    app.host.repositories["acme/widgets"].access["t-bob"] = Permission.ADMIN  # bob can now delete hooks
    await disconnect(DisconnectRepositoryInput(bob, repo_id))
    assert app.host.hooks == {}
    assert app.store.state.code_hosting.webhooks == {}


async def test_removing_the_webhook_failing_on_github_still_disconnects(app: App) -> None:
    repo_id, (ada,) = await connected(app, "t-ada")
    app.host.down = True
    await DisconnectRepository(app.uow(), app.host, app.tokens())(DisconnectRepositoryInput(ada, repo_id))
    assert app.store.state.code_hosting.access == {}


async def test_opening_a_pull_request_is_idempotent_per_head_branch_and_recorded(app: App) -> None:
    repo_id, (ada,) = await connected(app, "t-ada")
    opener = OpenPullRequest(app.uow(), app.host, app.tokens(), app.clock, app.ids)
    first = await opener(OpenPullRequestInput(ada, repo_id, "topic", "Add topic", "Body"))
    second = await opener(OpenPullRequestInput(ada, repo_id, "topic", "Add topic", "Body"))
    assert first.id == second.id
    assert first.opened_by_platform
    assert first.base_ref == "main"
    assert len(app.host.pulls) == 1
    listed = await ListPullRequests(app.uow())(
        ListPullRequestsInput(ada, repo_id, state=PullRequestState.OPEN)
    )
    assert [p.number for p in listed.items] == [1]


async def test_a_reader_cannot_open_a_pull_request(app: App) -> None:
    repo_id, (_, bob) = await connected(app, "t-ada", "t-bob")
    opener = OpenPullRequest(app.uow(), app.host, app.tokens(), app.clock, app.ids)
    with pytest.raises(Forbidden):
        await opener(OpenPullRequestInput(bob, repo_id, "topic", "T", "B"))


async def test_a_posted_review_is_recorded_with_its_inline_comments(app: App) -> None:
    repo_id, (ada, bob) = await connected(app, "t-ada", "t-bob")
    pull = await OpenPullRequest(app.uow(), app.host, app.tokens(), app.clock, app.ids)(
        OpenPullRequestInput(ada, repo_id, "topic", "T", "B")
    )
    poster = PostPullRequestReview(app.uow(), app.host, app.tokens(), app.clock, app.ids)
    review = await poster(
        PostReviewInput(bob, pull.id, "LGTM", "COMMENT", (InlineComment("src/a.py", 3, "nit"),))
    )
    view = await GetPullRequest(app.uow())(GetPullRequestInput(ada, pull.id))
    assert review.by_platform
    assert [r.state for r in view.reviews] == ["commented"]
    assert [(c.path, c.line, c.body) for c in view.comments] == [("src/a.py", 3, "nit")]
    assert app.host.reviews[0].comments == [InlineComment("src/a.py", 3, "nit")]
    stranger = await app.user("t-zed")
    with pytest.raises(NotFound):
        await GetPullRequest(app.uow())(GetPullRequestInput(stranger, pull.id))
    with pytest.raises(NotFound):
        await poster(PostReviewInput(stranger, pull.id, "x"))
