"""Providers for code hosting: the code host (GitHub or local git), git transport and the use cases.

The switch: ``CODE_HOST=github`` or ``local`` decides; with the default ``auto``, development and test use
``LocalGitCodeHost`` over ``LOCAL_REPOSITORIES_ROOT`` (default ``<data dir>/repositories``) when
``GITHUB_CLIENT_ID`` is unset, and ``PyGithubCodeHost`` on ``GITHUB_API_URL`` otherwise (always in
production).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from dishka import Provider, Scope, provide

from asynccoder.adapters.github.git_cli_transport import GitCliTransport
from asynccoder.adapters.github.local_git_code_host import LocalGitCodeHost
from asynccoder.application.auth.ports import SecretBox
from asynccoder.application.common.ports import Clock, UnitOfWork
from asynccoder.application.github.ports import CodeHost, GitTransport
from asynccoder.application.repositories.manage import (
    WEBHOOK_PATH,
    CodeHostingConfig,
    ConnectRepository,
    DisconnectRepository,
    GetRepository,
    ListConnectableRepositories,
    ListRepositories,
    UpdateRepositorySettings,
    UserTokens,
)
from asynccoder.application.repositories.pull_requests import (
    GetPullRequest,
    ListPullRequests,
    OpenPullRequest,
    PostPullRequestReview,
)
from asynccoder.application.repositories.webhooks import IngestGitHubWebhook
from asynccoder.ioc.settings import Settings


def github_web_hosts(settings: Settings) -> frozenset[str]:
    """Hosts repositories may be cloned from: github.com, or the Enterprise host of ``GITHUB_API_URL``."""
    parts = urlsplit(settings.github_api_url)
    host = (parts.hostname or "").lower()
    if host in {"api.github.com", "github.com"}:
        return frozenset({"github.com"})
    return frozenset({f"{host}:{parts.port}" if parts.port else host})


class GitHubProvider(Provider):
    """Code host, git transport, and the repository / pull-request / webhook use cases."""

    @provide(scope=Scope.APP)
    def code_host(self, settings: Settings, clock: Clock) -> CodeHost:
        if settings.uses_local_code_host:
            return LocalGitCodeHost(settings.repositories_root, clock)
        from asynccoder.adapters.github.pygithub_code_host import PyGithubCodeHost  # PyGithub on first use

        return PyGithubCodeHost(settings.github_api_url)

    @provide(scope=Scope.APP)
    def git_transport(self, settings: Settings) -> GitTransport:
        return GitCliTransport(
            allowed_hosts=github_web_hosts(settings),
            allow_local_paths=settings.uses_local_code_host and not settings.is_production,
            timeout_seconds=settings.git_timeout_seconds,
        )

    @provide(scope=Scope.APP)
    def config(self, settings: Settings) -> CodeHostingConfig:
        return CodeHostingConfig(
            webhook_url=settings.public_base_url.rstrip("/") + WEBHOOK_PATH,
            app_webhook_secret=settings.github_webhook_secret,
        )

    @provide(scope=Scope.REQUEST)
    def tokens(self, uow: UnitOfWork, box: SecretBox, code_host: CodeHost) -> UserTokens:
        return UserTokens(uow, box, code_host)

    connect = provide(ConnectRepository, scope=Scope.REQUEST)
    list_repositories = provide(ListRepositories, scope=Scope.REQUEST)
    list_connectable = provide(ListConnectableRepositories, scope=Scope.REQUEST)
    get_repository = provide(GetRepository, scope=Scope.REQUEST)
    disconnect = provide(DisconnectRepository, scope=Scope.REQUEST)
    update_settings = provide(UpdateRepositorySettings, scope=Scope.REQUEST)
    list_pulls = provide(ListPullRequests, scope=Scope.REQUEST)
    get_pull = provide(GetPullRequest, scope=Scope.REQUEST)
    open_pull = provide(OpenPullRequest, scope=Scope.REQUEST)
    post_review = provide(PostPullRequestReview, scope=Scope.REQUEST)
    ingest_webhook = provide(IngestGitHubWebhook, scope=Scope.REQUEST)
