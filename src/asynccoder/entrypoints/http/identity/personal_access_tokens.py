"""Personal access tokens: create (secret shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, JSONBody

from asynccoder.application.identity.personal_access_tokens import (
    CreatePersonalAccessToken,
    CreatePersonalAccessTokenCommand,
    ListPersonalAccessTokens,
    ListPersonalAccessTokensQuery,
    RevokePersonalAccessToken,
    RevokePersonalAccessTokenCommand,
)
from asynccoder.application.shared import DEFAULT_PAGE_SIZE
from asynccoder.domain.identity import Actor, PersonalAccessToken
from asynccoder.entrypoints.http.common import (
    API_PREFIX,
    Cursor,
    Limit,
    parse_cursor,
    problem_responses,
    wire,
)


class NewToken(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    expires_at: datetime | None = None
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=366)] | None = None


class TokenView(msgspec.Struct):
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class CreatedToken(TokenView):
    token: str


class TokenPage(msgspec.Struct):
    items: list[TokenView]
    next_cursor: str | None


def _view(token: PersonalAccessToken) -> TokenView:
    return wire(TokenView, token, id=str(token.id))


class PersonalAccessTokenController(Controller):
    path = "/auth/tokens"
    tags = ["auth"]

    @post(
        "/",
        operation_id="personal_access_tokens_create",
        summary="Create a personal access token",
        status_code=201,
        responses=problem_responses(400, 401, 403, 422),
    )
    @inject
    async def create(
        self,
        data: JSONBody[NewToken],
        actor: FromDishka[Actor],
        create: FromDishka[CreatePersonalAccessToken],
    ) -> Response[CreatedToken]:
        """The `token` (`acp_...`) is in this response only; store it now. Use it as
        `Authorization: Bearer acp_...`. A token never outlives the one that creates it: with an access
        token the sign-in must be at most 10 minutes old (403 `fresh_login_required`: sign in again); with a
        personal access token that expires, the new one gets its expiry when none is asked for and a later
        one is refused (422 `token_outlives_credential`)."""
        created = await create(
            CreatePersonalAccessTokenCommand(
                actor=actor, name=data.name, expires_at=data.expires_at, expires_in_days=data.expires_in_days
            )
        )
        body = wire(CreatedToken, created.token, id=str(created.token.id), token=created.secret)
        return Response(
            body,
            status_code=201,
            headers={"Location": f"{API_PREFIX}/auth/tokens/{created.token.id}", "Cache-Control": "no-store"},
        )

    @get(
        "/",
        operation_id="personal_access_tokens_list",
        summary="List your personal access tokens",
        responses=problem_responses(400, 401),
    )
    @inject
    async def list_tokens(
        self,
        actor: FromDishka[Actor],
        list_tokens: FromDishka[ListPersonalAccessTokens],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> TokenPage:
        """Newest first; secrets are never shown again (only the prefix). 400 `invalid_cursor` for a cursor
        that did not come from a previous page."""
        page = await list_tokens(
            ListPersonalAccessTokensQuery(actor=actor, limit=limit, cursor=parse_cursor(cursor))
        )
        return TokenPage(
            items=[_view(t) for t in page.items],
            next_cursor=str(page.next_cursor) if page.next_cursor else None,
        )

    @delete(
        "/{token_id:uuid}",
        operation_id="personal_access_tokens_revoke",
        summary="Revoke a personal access token",
        status_code=204,
        responses=problem_responses(401, 404),
    )
    @inject
    async def revoke(
        self,
        token_id: FromPath[UUID],
        actor: FromDishka[Actor],
        revoke: FromDishka[RevokePersonalAccessToken],
    ) -> None:
        """Revoked tokens get 401 from then on. Another user's token id is 404."""
        await revoke(RevokePersonalAccessTokenCommand(actor=actor, token_id=token_id))
