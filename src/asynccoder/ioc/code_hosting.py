"""Providers for code hosting: the code host (GitHub or local git), git transport and the use cases.

The switch: ``CODE_HOST=github`` or ``local`` decides; with the default ``auto``, development and test use
``LocalGitCodeHost`` over ``LOCAL_REPOSITORIES_ROOT`` (default ``<data dir>/repositories``) when
``GITHUB_CLIENT_ID`` is unset, and ``PyGithubCodeHost`` on ``GITHUB_API_URL`` otherwise (always in
production).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from dishka import Provider, Scope, provide

from asynccoder.adapters.git.cli_transport import GitCliTransport
from asynccoder.adapters.git.local_code_host import LocalGitCodeHost
from asynccoder.adapters.github.oauth_client import HttpxGitHubOAuth
from asynccoder.adapters.github.webhooks import GitHubWebhooks
from asynccoder.application.code_hosting.github_connection import (
    CompleteGitHubConnection,
    DisconnectGitHub,
    GetGitHubConnection,
    GitHubConnectSettings,
    StartGitHubConnection,
)
from asynccoder.application.code_hosting.pull_requests import (
    GetPullRequest,
    ListPullRequests,
    OpenPullRequest,
    PostPullRequestReview,
)
from asynccoder.application.code_hosting.repositories import (
    CodeHostingConfig,
    ConnectRepository,
    DisconnectRepository,
    GetRepository,
    ListConnectableRepositories,
    ListRepositories,
    UpdateRepositorySettings,
    UserTokens,
)
from asynccoder.application.code_hosting.webhooks import (
    DeliveryRetention,
    IngestGitHubWebhook,
    PruneGitHubDeliveries,
)
from asynccoder.application.ports.code_hosting import (
    CodeHost,
    GitHubOAuth,
    GitTransport,
    WebhookDecoder,
)
from asynccoder.application.ports.system import Clock, SecretBox
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.ioc.settings import GITHUB_CALLBACK_PATH, GITHUB_WEBHOOK_PATH, Settings


def github_web_hosts(settings: Settings) -> frozenset[str]:
    """Hosts repositories may be cloned from: github.com, or the Enterprise host of ``GITHUB_API_URL``."""
    parts = urlsplit(settings.github_api_url)
    host = (parts.hostname or "").lower()
    if host in {"api.github.com", "github.com"}:
        return frozenset({"github.com"})
    return frozenset({f"{host}:{parts.port}" if parts.port else host})


class CodeHostingProvider(Provider):
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
            webhook_url=settings.public_base_url.rstrip("/") + GITHUB_WEBHOOK_PATH,
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
    prune_deliveries = provide(PruneGitHubDeliveries, scope=Scope.REQUEST)

    @provide(scope=Scope.APP)
    def delivery_retention(self, settings: Settings) -> DeliveryRetention:
        return DeliveryRetention(timedelta(days=settings.github_delivery_retention_days))

    webhook_decoder = provide(GitHubWebhooks, provides=WebhookDecoder, scope=Scope.APP)

    @provide(scope=Scope.APP)
    async def github_oauth(self, settings: Settings) -> AsyncIterator[GitHubOAuth]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False) as http:
            yield HttpxGitHubOAuth(
                oauth_url=settings.github_oauth_url,
                api_url=settings.github_api_url,
                client_id=settings.github_client_id,
                client_secret=settings.github_client_secret,
                scopes=settings.github_oauth_scopes,
                http=http,
            )

    @provide(scope=Scope.APP)
    def github_connect_settings(self, settings: Settings) -> GitHubConnectSettings:
        return GitHubConnectSettings(redirect_uri=settings.public_base_url + GITHUB_CALLBACK_PATH)

    start_github = provide(StartGitHubConnection, scope=Scope.REQUEST)
    complete_github = provide(CompleteGitHubConnection, scope=Scope.REQUEST)
    get_github = provide(GetGitHubConnection, scope=Scope.REQUEST)
    disconnect_github = provide(DisconnectGitHub, scope=Scope.REQUEST)
