"""Connected repositories over HTTP: connect, list, show, settings, disconnect."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from asynccoder.application.code_hosting.pull_requests import (
    ListPullRequests,
    ListPullRequestsInput,
)
from asynccoder.application.code_hosting.repositories import (
    ConnectableRepositories,
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
    RepositoryView,
    UpdateRepositorySettings,
    UpdateRepositorySettingsInput,
)
from asynccoder.application.ports.code_hosting import HostedRepository
from asynccoder.application.shared import DEFAULT_PAGE_SIZE
from asynccoder.domain.code_hosting import (
    PullRequestState,
)
from asynccoder.domain.errors import FieldProblem, InvalidInput
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.code_hosting.schemas import PullRequestOut, pull_request_out
from asynccoder.entrypoints.http.common import (
    API_PREFIX,
    Cursor,
    Limit,
    parse_cursor,
    problem_response,
    wire,
)

ERRORS = {
    400: problem_response("Invalid input (`validation_failed`)"),
    404: problem_response("No such repository, or the caller has no access (`repository_not_found`)"),
}
CODE_HOST_ERRORS = {
    422: problem_response(
        "The code host refused (`github_not_connected`, `code_host_forbidden`, `code_host_rejected`, "
        "`code_host_reauthorization_required`)"
    ),
    429: problem_response(
        "The code host's rate limit is exhausted (`code_host_rate_limited`); see Retry-After"
    ),
    503: problem_response("The code host is unreachable (`code_host_unavailable`)"),
}


class RepositorySettingsOut(msgspec.Struct):
    auto_review: bool
    default_model_id: UUID | None
    default_base_branch: str | None
    test_command: str | None


class RepositoryOut(msgspec.Struct):
    id: UUID
    host: str
    full_name: str
    default_branch: str
    visibility: str
    html_url: Annotated[
        str | None, msgspec.Meta(description="The repository's page on GitHub; null for a local repository.")
    ]
    permission: str
    webhook_active: bool
    settings: RepositorySettingsOut
    head_sha: str | None
    last_pushed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RepositoryListOut(msgspec.Struct, tag_field="source", tag="connected"):
    """Connected repositories (``source`` is ``connected``)."""

    items: list[RepositoryOut]
    next_cursor: str | None


class ConnectableRepositoryOut(msgspec.Struct):
    full_name: str
    github_id: int | None
    default_branch: str
    visibility: str
    permission: str
    html_url: str | None


class ConnectableRepositoryListOut(msgspec.Struct, tag_field="source", tag="github"):
    """Repositories the caller could connect, read from GitHub (``source`` is ``github``)."""

    items: list[ConnectableRepositoryOut]
    next_cursor: str | None


class ConnectRepositoryIn(msgspec.Struct, forbid_unknown_fields=True):
    full_name: Annotated[str, msgspec.Meta(min_length=3, max_length=140, description="owner/name")]


class RepositorySettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    auto_review: bool
    default_model_id: UUID | None
    default_base_branch: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None
    test_command: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=500,
                description="One shell line Debug tasks run in the sandbox to test their fix (e.g. "
                "`pytest -q`); null or absent for none.",
            ),
        ]
        | None
    ) = None


class PullRequestListOut(msgspec.Struct):
    items: list[PullRequestOut]
    next_cursor: str | None


def repository_out(view: RepositoryView) -> RepositoryOut:
    repo = view.repository
    return wire(
        RepositoryOut,
        repo,
        visibility=repo.visibility.value,
        permission=view.permission.value,
        webhook_active=view.webhook_active,
        settings=wire(RepositorySettingsOut, repo),
    )


def _connectable(repo: HostedRepository) -> ConnectableRepositoryOut:
    return wire(
        ConnectableRepositoryOut,
        repo,
        github_id=repo.host_id,
        visibility=repo.visibility.value,
        permission=repo.permission.value,
    )


def _page_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 1
    if not cursor.isdigit() or not 1 <= int(cursor) <= 100_000:
        raise InvalidInput("The cursor is not valid.", problems=[FieldProblem("cursor", "is not valid")])
    return int(cursor)


class RepositoryController(Controller):
    path = "/repositories"
    tags = ["repositories"]

    @get(
        "/",
        operation_id="repositories_list",
        summary="List connected repositories, or connectable ones on GitHub",
        responses={**ERRORS, **CODE_HOST_ERRORS},
    )
    @inject
    async def list_repositories(
        self,
        actor: FromDishka[Actor],
        list_connected: FromDishka[ListRepositories],
        list_connectable: FromDishka[ListConnectableRepositories],
        source: Annotated[
            Literal["connected", "github"],
            QueryParameter(
                description="`connected` (default): the caller's connected repositories; `github`: "
                "repositories the caller can access on the code host"
            ),
        ] = "connected",
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> RepositoryListOut | ConnectableRepositoryListOut:
        """The caller's connected repositories, newest first; never another user's."""
        if source == "github":
            page: ConnectableRepositories = await list_connectable(
                ListConnectableRepositoriesInput(actor, page=_page_cursor(cursor), per_page=limit)
            )
            return ConnectableRepositoryListOut(
                [_connectable(r) for r in page.items], str(page.next_page) if page.next_page else None
            )
        result = await list_connected(ListRepositoriesInput(actor, limit=limit, cursor=parse_cursor(cursor)))
        return RepositoryListOut(
            [
                repository_out(RepositoryView(r.repository, r.permission, r.webhook_active))
                for r in result.items
            ],
            str(result.next_cursor) if result.next_cursor else None,
        )

    @post(
        "/",
        operation_id="repositories_connect",
        summary="Connect a repository",
        status_code=201,
        responses={**ERRORS, **CODE_HOST_ERRORS},
    )
    @inject
    async def connect(
        self,
        actor: FromDishka[Actor],
        connect: FromDishka[ConnectRepository],
        data: JSONBody[ConnectRepositoryIn],
    ) -> Response[RepositoryOut]:
        """Verifies the caller's access on GitHub, mirrors their permission, stores the default branch and
        visibility, and registers a webhook (once per repository, by an admin). Connecting a repository that
        another user already connected adds the caller's access."""
        result = await connect(ConnectRepositoryInput(actor, data.full_name))
        out = repository_out(result.view)
        return Response(out, status_code=201, headers={"Location": f"{API_PREFIX}/repositories/{out.id}"})

    @get(
        "/{repository_id:uuid}", operation_id="repositories_get", summary="Get a repository", responses=ERRORS
    )
    @inject
    async def get_repository(
        self,
        actor: FromDishka[Actor],
        get_repository: FromDishka[GetRepository],
        repository_id: FromPath[UUID],
    ) -> RepositoryOut:
        """404 unless the caller has access to the repository."""
        return repository_out(await get_repository(GetRepositoryInput(actor, repository_id)))

    @delete(
        "/{repository_id:uuid}",
        operation_id="repositories_disconnect",
        summary="Disconnect a repository",
        status_code=204,
        responses=ERRORS,
    )
    @inject
    async def disconnect(
        self,
        actor: FromDishka[Actor],
        disconnect: FromDishka[DisconnectRepository],
        repository_id: FromPath[UUID],
    ) -> None:
        """Removes the caller's access; the last user leaving removes the webhook (best-effort on GitHub)."""
        await disconnect(DisconnectRepositoryInput(actor, repository_id))

    @put(
        "/{repository_id:uuid}/settings",
        operation_id="repositories_update_settings",
        summary="Change a repository's settings",
        responses={
            **ERRORS,
            403: problem_response(
                "The caller can see the repository but lacks write access (`insufficient_repository_access`)"
            ),
        },
    )
    @inject
    async def update_settings(
        self,
        actor: FromDishka[Actor],
        update: FromDishka[UpdateRepositorySettings],
        repository_id: FromPath[UUID],
        data: JSONBody[RepositorySettingsIn],
    ) -> RepositoryOut:
        """Auto-review of new pull requests, the default model, the default base branch and the test
        command Debug tasks run in the sandbox.

        Needs write access on the code host."""
        view = await update(
            UpdateRepositorySettingsInput(
                actor,
                repository_id,
                data.auto_review,
                data.default_model_id,
                data.default_base_branch,
                data.test_command,
            )
        )
        return repository_out(view)

    @get(
        "/{repository_id:uuid}/pulls",
        operation_id="pull_requests_list",
        summary="List a repository's pull requests",
        responses=ERRORS,
    )
    @inject
    async def list_pulls(
        self,
        actor: FromDishka[Actor],
        list_pulls: FromDishka[ListPullRequests],
        repository_id: FromPath[UUID],
        pr_state: Annotated[
            Literal["open", "closed", "merged", "all"],
            QueryParameter(name="state", description="Filter by state"),
        ] = "all",
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> PullRequestListOut:
        """Newest first; 404 unless the caller has access to the repository."""
        result = await list_pulls(
            ListPullRequestsInput(
                actor,
                repository_id,
                state=None if pr_state == "all" else PullRequestState(pr_state),
                limit=limit,
                cursor=parse_cursor(cursor),
            )
        )
        return PullRequestListOut(
            [pull_request_out(p) for p in result.items],
            str(result.next_cursor) if result.next_cursor else None,
        )
