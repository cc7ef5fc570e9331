"""The caller's GitHub connection over HTTP: authorize, complete, show, disconnect."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, get, post
from litestar.params import JSONBody

from asynccoder.application.code_hosting.github_connection import (
    CompleteGitHubConnection,
    CompleteGitHubConnectionCommand,
    DisconnectGitHub,
    DisconnectGitHubCommand,
    GetGitHubConnection,
    GetGitHubConnectionQuery,
    StartGitHubConnection,
    StartGitHubConnectionCommand,
)
from asynccoder.domain.code_hosting import GitHubConnection
from asynccoder.domain.identity import (
    Actor,
)
from asynccoder.entrypoints.http.auth import PUBLIC
from asynccoder.entrypoints.http.common import problem_responses, wire


class GitHubAuthorizeView(msgspec.Struct):
    authorize_url: str


class GitHubComplete(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    state: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class GitHubConnectionView(msgspec.Struct):
    login: str
    github_user_id: int
    scopes: list[str]
    connected_at: datetime
    updated_at: datetime


class CallbackNotice(msgspec.Struct):
    status: str
    detail: str


def _connection_view(connection: GitHubConnection) -> GitHubConnectionView:
    return wire(GitHubConnectionView, connection, connected_at=connection.created_at)


class GitHubConnectionController(Controller):
    path = "/users/github"
    tags = ["users"]

    @post(
        "/",
        operation_id="github_connect_start",
        summary="Start connecting your GitHub account",
        status_code=200,
        responses=problem_responses(401, 422),
    )
    @inject
    async def start(
        self, actor: FromDishka[Actor], start: FromDishka[StartGitHubConnection]
    ) -> GitHubAuthorizeView:
        """Send the browser to `authorize_url` (single-use `state` bound to you, PKCE S256). GitHub then
        redirects with `code` and `state`: post both to `/api/v1/users/github/complete`. 503
        `github_not_configured` when the server has no GitHub OAuth app."""
        return GitHubAuthorizeView(
            authorize_url=(await start(StartGitHubConnectionCommand(actor=actor))).authorize_url
        )

    @post(
        "/complete",
        operation_id="github_connect_complete",
        summary="Finish connecting your GitHub account",
        status_code=200,
        responses=problem_responses(400, 401, 422, 503),
    )
    @inject
    async def complete(
        self,
        data: JSONBody[GitHubComplete],
        actor: FromDishka[Actor],
        complete: FromDishka[CompleteGitHubConnection],
    ) -> GitHubConnectionView:
        """400 `invalid_state` for an unknown, expired, used or someone else's state; 400
        `github_code_rejected` when GitHub refuses the code."""
        connection = await complete(
            CompleteGitHubConnectionCommand(actor=actor, code=data.code, state=data.state)
        )
        return _connection_view(connection)

    @get(
        "/",
        operation_id="github_connection_get",
        summary="Your GitHub connection",
        responses=problem_responses(401, 404),
    )
    @inject
    async def show(
        self, actor: FromDishka[Actor], get_connection: FromDishka[GetGitHubConnection]
    ) -> GitHubConnectionView:
        """Never shows the token. 404 `github_not_connected` when there is none."""
        return _connection_view(await get_connection(GetGitHubConnectionQuery(actor=actor)))

    @delete(
        "/",
        operation_id="github_disconnect",
        summary="Disconnect your GitHub account",
        status_code=204,
        responses=problem_responses(401),
    )
    @inject
    async def disconnect(self, actor: FromDishka[Actor], disconnect: FromDishka[DisconnectGitHub]) -> None:
        """Idempotent."""
        await disconnect(DisconnectGitHubCommand(actor=actor))

    @get(
        "/callback",
        operation_id="github_connect_callback",
        summary="Where GitHub sends the browser back",
        opt=PUBLIC,
        security=[{}],
    )
    async def callback(self) -> CallbackNotice:
        """Does nothing with the query: the signed-in app reads `code` and `state` from this URL and posts
        them to `/api/v1/users/github/complete`."""
        return CallbackNotice(
            status="pending",
            detail="Return to Async Coder to finish connecting GitHub.",
        )
