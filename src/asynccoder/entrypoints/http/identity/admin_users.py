"""User administration (admin role)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody

from asynccoder.application.identity.admin import (
    ListUsers,
    ListUsersQuery,
    UpdateUser,
    UpdateUserCommand,
)
from asynccoder.application.shared import DEFAULT_PAGE_SIZE
from asynccoder.domain.identity import (
    Actor,
    Role,
    UserStatus,
)
from asynccoder.entrypoints.http.auth import require_admin
from asynccoder.entrypoints.http.common import (
    Cursor,
    Limit,
    parse_cursor,
    problem_responses,
)
from asynccoder.entrypoints.http.identity.profile import (
    UserView,
    user_view,
)


class UserPage(msgspec.Struct):
    items: list[UserView]
    next_cursor: str | None


class UserChange(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["user", "admin"] | None = None
    status: Literal["active", "disabled"] | None = None


class AdminUserController(Controller):
    path = "/admin/users"
    tags = ["admin"]
    guards = [require_admin]

    @get(
        "/", operation_id="admin_users_list", summary="List users", responses=problem_responses(400, 401, 403)
    )
    @inject
    async def list_users(
        self,
        actor: FromDishka[Actor],
        list_users: FromDishka[ListUsers],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> UserPage:
        """Newest first."""
        page = await list_users(ListUsersQuery(actor=actor, limit=limit, cursor=parse_cursor(cursor)))
        return UserPage(
            items=[user_view(u) for u in page.items],
            next_cursor=str(page.next_cursor) if page.next_cursor else None,
        )

    @put(
        "/{user_id:uuid}",
        operation_id="admin_users_update",
        summary="Change a user's role or status",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    @inject
    async def update_user(
        self,
        user_id: FromPath[UUID],
        data: JSONBody[UserChange],
        actor: FromDishka[Actor],
        update_user: FromDishka[UpdateUser],
    ) -> UserView:
        """Promote, demote, disable or enable. An admin cannot demote or disable themselves (422
        `cannot_change_own_access`)."""
        user = await update_user(
            UpdateUserCommand(
                actor=actor,
                user_id=user_id,
                role=Role(data.role) if data.role else None,
                status=UserStatus(data.status) if data.status else None,
            )
        )
        return user_view(user)
