"""The caller's profile over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, get, put
from litestar.params import JSONBody

from asynccoder.application.identity.password_change import ChangePassword, ChangePasswordCommand
from asynccoder.application.identity.profile import (
    GetProfile,
    GetProfileQuery,
    UpdateProfile,
    UpdateProfileCommand,
)
from asynccoder.domain.identity import (
    MAX_PASSWORD_LENGTH,
    Actor,
    User,
)
from asynccoder.entrypoints.http.common import problem_responses, wire
from asynccoder.entrypoints.http.identity.sessions import request_client_ip
from asynccoder.ioc.settings import Settings


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
    return wire(
        UserView,
        user,
        id=str(user.id),
        role=user.role.value,
        status=user.status.value,
        has_password=user.password_hash is not None,
        clerk_linked=user.clerk_user_id is not None,
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


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PASSWORD_LENGTH * 4)]
    new_password: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PASSWORD_LENGTH * 4)]
    revoke_personal_access_tokens: bool = False


class PasswordChangeResult(msgspec.Struct):
    sessions_ended: int
    personal_access_tokens_revoked: int
    access_token: str | None
    token_type: str
    expires_in: int | None


class PasswordController(Controller):
    path = "/users/password"
    tags = ["users"]

    @put(
        "/",
        operation_id="password_change",
        summary="Change your password",
        responses=problem_responses(400, 401, 422, 429, 503),
    )
    @inject
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PasswordChange],
        actor: FromDishka[Actor],
        change_password: FromDishka[ChangePassword],
        settings: FromDishka[Settings],
    ) -> Response[PasswordChangeResult]:
        """Needs the current password (400 `invalid_current_password`; attempts are throttled like logins:
        429 `too_many_attempts`); the new one follows the registration rules (400 `weak_password`); a
        password-less (Clerk) account gets 422 `no_password`. Every other sign-in session ends and access
        tokens issued before now stop working; the caller's own session continues with the `access_token`
        returned here (null when the caller used a personal access token or a Clerk token). With
        `revoke_personal_access_tokens: true` every personal access token is revoked too."""
        changed = await change_password(
            ChangePasswordCommand(
                actor=actor,
                current_password=data.current_password,
                new_password=data.new_password,
                client=request_client_ip(request, settings),
                revoke_personal_access_tokens=data.revoke_personal_access_tokens,
            )
        )
        return Response(
            PasswordChangeResult(
                sessions_ended=changed.sessions_ended,
                personal_access_tokens_revoked=changed.personal_access_tokens_revoked,
                access_token=changed.access_token,
                token_type="bearer",
                expires_in=changed.expires_in,
            ),
            headers={"Cache-Control": "no-store"},
        )
