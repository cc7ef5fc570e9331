"""Public authentication endpoints: register, login, refresh, logout."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody

from asynccoder.application.identity.registration import (
    RegisterUser,
    RegisterUserCommand,
)
from asynccoder.application.identity.sessions import (
    ClientInfo,
    EndSession,
    EndSessionCommand,
    ListSessions,
    ListSessionsQuery,
    LogIn,
    LogInCommand,
    LogOut,
    LogOutCommand,
    RefreshSession,
    RefreshSessionCommand,
    TokenPair,
)
from asynccoder.application.shared import DEFAULT_PAGE_SIZE
from asynccoder.domain.identity import MAX_PASSWORD_LENGTH, Actor
from asynccoder.entrypoints.http.auth import PUBLIC
from asynccoder.entrypoints.http.client_ip import client_ip, parse_networks
from asynccoder.entrypoints.http.common import Cursor, Limit, parse_cursor, problem_responses, wire
from asynccoder.ioc.settings import Settings

# Over-long passwords are refused by the schema (before any hashing); a little slack above the domain limit
# lets the domain give its own, clearer message.
_PASSWORD = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PASSWORD_LENGTH * 4)]
_EMAIL = Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
_OPAQUE = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Registration(msgspec.Struct, forbid_unknown_fields=True):
    email: _EMAIL
    password: _PASSWORD
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class RegistrationAccepted(msgspec.Struct):
    status: str
    detail: str


class Credentials(msgspec.Struct, forbid_unknown_fields=True):
    email: _EMAIL
    password: _PASSWORD


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: _OPAQUE


class Tokens(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str


def _tokens(pair: TokenPair) -> Response[Tokens]:
    return Response(
        wire(Tokens, pair),
        status_code=200,
        headers=NO_STORE,
    )


ACCEPTED = RegistrationAccepted(
    status="accepted",
    detail="If this address can be registered, the account is ready: sign in with it.",
)


def request_client_ip(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The client address of a request: the TCP peer, or ``X-Forwarded-For`` from a trusted proxy."""
    peer = request.client.host if request.client else None
    return client_ip(
        peer, request.headers.getall("x-forwarded-for", []), parse_networks(settings.trusted_proxies)
    )


class SessionController(Controller):
    path = "/auth"
    tags = ["auth"]
    opt = PUBLIC
    security = [{}]  # anonymous allowed (an empty requirement in OpenAPI)

    @post(
        "/register",
        operation_id="auth_register",
        summary="Create an account with a password",
        status_code=202,
        responses=problem_responses(400, 413, 503),
    )
    @inject
    async def register(
        self, data: JSONBody[Registration], register: FromDishka[RegisterUser]
    ) -> RegistrationAccepted:
        """Always 202 with the same body, whether or not the email was already registered (for an existing
        email nothing changes). Passwords: 12 to 256 characters, at least 4 different characters (400
        `weak_password` otherwise). E-mail addresses are normalised (NFKC, lower case, IDNA domain);
        invisible or bidi control characters, emoji, mixed scripts and malformed domains are 400
        `validation_failed` naming `email`. 503 `server_busy` with `Retry-After` when the server is at its
        bound of concurrent password hashing."""
        await register(
            RegisterUserCommand(email=data.email, password=data.password, display_name=data.display_name)
        )
        return ACCEPTED

    @post(
        "/login",
        operation_id="auth_login",
        summary="Exchange email and password for tokens",
        status_code=200,
        responses=problem_responses(400, 401, 429, 503),
    )
    @inject
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Credentials],
        log_in: FromDishka[LogIn],
        settings: FromDishka[Settings],
    ) -> Response[Tokens]:
        """Returns a short-lived access JWT and an opaque refresh token. Unknown email, wrong password and
        disabled account all give the same 401 `invalid_credentials`. Attempts are counted before any
        password work: over the limits per account and address, per address, or the account's growing
        delay (capped), 429 `too_many_attempts` with `Retry-After`. 503 `server_busy` with `Retry-After`
        when the server is at its bound of concurrent password hashing."""
        client = request_client_ip(request, settings)
        pair = await log_in(
            LogInCommand(
                email=data.email,
                password=data.password,
                client=client,
                user_agent=request.headers.get("user-agent"),
            )
        )
        return _tokens(pair)

    @post(
        "/refresh",
        operation_id="auth_refresh",
        summary="Rotate a refresh token",
        status_code=200,
        responses=problem_responses(400, 401),
    )
    @inject
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RefreshRequest],
        refresh_session: FromDishka[RefreshSession],
        settings: FromDishka[Settings],
    ) -> Response[Tokens]:
        """The presented refresh token stops working and a new pair is returned. Presenting a used refresh
        token revokes its whole family (401 `invalid_refresh_token`)."""
        client = ClientInfo(request_client_ip(request, settings), request.headers.get("user-agent"))
        return _tokens(
            await refresh_session(RefreshSessionCommand(refresh_token=data.refresh_token, client=client))
        )

    @post(
        "/logout",
        operation_id="auth_logout",
        summary="Revoke a refresh token's family",
        status_code=204,
        responses=problem_responses(400),
    )
    @inject
    async def logout(self, data: JSONBody[RefreshRequest], log_out: FromDishka[LogOut]) -> None:
        """Idempotent: an unknown or already revoked token also gets 204."""
        await log_out(LogOutCommand(refresh_token=data.refresh_token))


class SessionView(msgspec.Struct):
    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    client_ip: str | None
    user_agent: str | None
    current: bool


class SessionPage(msgspec.Struct):
    items: list[SessionView]
    next_cursor: str | None


class SignInSessionController(Controller):
    path = "/auth/sessions"
    tags = ["auth"]

    @get(
        "/",
        operation_id="auth_sessions_list",
        summary="List your sign-in sessions",
        responses=problem_responses(400, 401),
    )
    @inject
    async def list_sessions(
        self,
        actor: FromDishka[Actor],
        list_sessions: FromDishka[ListSessions],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> SessionPage:
        """Live sessions (refresh-token families) newest login first: when it signed in (`created_at`), when
        it last signed in or refreshed (`last_used_at`), from which address and user agent, and `current`
        for the session of the access token making this request. No token is shown."""
        page = await list_sessions(ListSessionsQuery(actor=actor, limit=limit, cursor=parse_cursor(cursor)))
        return SessionPage(
            items=[
                wire(
                    SessionView,
                    item.session,
                    id=str(item.session.id),
                    created_at=item.session.started_at,
                    current=item.current,
                )
                for item in page.items
            ],
            next_cursor=str(page.next_cursor) if page.next_cursor else None,
        )

    @delete(
        "/{session_id:uuid}",
        operation_id="auth_sessions_end",
        summary="Sign a session out",
        status_code=204,
        responses=problem_responses(401, 404),
    )
    @inject
    async def end_session(
        self, session_id: FromPath[UUID], actor: FromDishka[Actor], end_session: FromDishka[EndSession]
    ) -> None:
        """Its refresh token stops working at once; access tokens it already holds expire within
        `ACCESS_TOKEN_TTL_SECONDS`. Another user's session id is 404."""
        await end_session(EndSessionCommand(actor=actor, session_id=session_id))
