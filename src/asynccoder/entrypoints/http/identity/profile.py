"""The caller's profile over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, put
from litestar.params import JSONBody

from asynccoder.application.identity.profile import (
    GetProfile,
    GetProfileQuery,
    UpdateProfile,
    UpdateProfileCommand,
)
from asynccoder.domain.identity import (
    Actor,
    User,
)
from asynccoder.entrypoints.http.common import problem_responses


class UserView(msgspec.Struct):
    id: str
    email: str
    display_name: str
    role: str
    status: str
    github_login: str | None
    has_password: bool
    clerk_linked: bool
    created_at: datetime
    updated_at: datetime


def user_view(user: User) -> UserView:
    """The public shape of a user: never a password hash or any credential."""
    return UserView(
        id=str(user.id),
        email=user.email,
        display_name=user.display_name,
        role=user.role.value,
        status=user.status.value,
        github_login=user.github_login,
        has_password=user.password_hash is not None,
        clerk_linked=user.clerk_user_id is not None,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


class ProfileUpdate(msgspec.Struct, forbid_unknown_fields=True):
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ProfileController(Controller):
    path = "/users/profile"
    tags = ["users"]

    @get("/", operation_id="profile_get", summary="Your profile", responses=problem_responses(401))
    @inject
    async def get_profile(self, actor: FromDishka[Actor], get_profile: FromDishka[GetProfile]) -> UserView:
        return user_view(await get_profile(GetProfileQuery(actor=actor)))

    @put(
        "/",
        operation_id="profile_update",
        summary="Change your display name",
        responses=problem_responses(400, 401),
    )
    @inject
    async def update_profile(
        self,
        data: JSONBody[ProfileUpdate],
        actor: FromDishka[Actor],
        update_profile: FromDishka[UpdateProfile],
    ) -> UserView:
        """Only `display_name` is editable; any other field (role, email, credits...) is rejected: 400."""
        return user_view(
            await update_profile(UpdateProfileCommand(actor=actor, display_name=data.display_name))
        )
