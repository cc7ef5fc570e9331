"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import structlog
from dishka import Provider
from dishka.integrations.litestar import setup_dishka
from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler

from asynccoder import __version__
from asynccoder.application.admission import cores
from asynccoder.entrypoints.http.ai.api_keys import ApiKeysController
from asynccoder.entrypoints.http.ai.models import AdminModelsController, ModelsController
from asynccoder.entrypoints.http.ai.providers import AdminProvidersController
from asynccoder.entrypoints.http.ai.usage import AdminUsageController, UserUsageController
from asynccoder.entrypoints.http.auth import HttpAuthProvider, require_user
from asynccoder.entrypoints.http.billing.account import BillingController
from asynccoder.entrypoints.http.billing.admin import AdminBillingController
from asynccoder.entrypoints.http.billing.credits import CreditsController
from asynccoder.entrypoints.http.billing.stripe_webhook import StripeWebhookController
from asynccoder.entrypoints.http.code_hosting.github_connection import GitHubConnectionController
from asynccoder.entrypoints.http.code_hosting.github_webhooks import receive_github_webhook
from asynccoder.entrypoints.http.code_hosting.pull_requests import PullRequestController
from asynccoder.entrypoints.http.code_hosting.repositories import RepositoryController
from asynccoder.entrypoints.http.common import API_PREFIX, problem_response
from asynccoder.entrypoints.http.docs_ui import docs_assets_router, docs_render_plugins
from asynccoder.entrypoints.http.health import HealthController
from asynccoder.entrypoints.http.identity.admin_users import AdminUserController
from asynccoder.entrypoints.http.identity.personal_access_tokens import PersonalAccessTokenController
from asynccoder.entrypoints.http.identity.profile import PasswordController, ProfileController
from asynccoder.entrypoints.http.identity.sessions import SessionController, SignInSessionController
from asynccoder.entrypoints.http.load_shedding import LARGE_BODY_BYTES, large_body_middleware
from asynccoder.entrypoints.http.metrics import MetricsController, prometheus_config
from asynccoder.entrypoints.http.middleware import request_id_middleware, security_headers_middleware
from asynccoder.entrypoints.http.openapi_strict import StrictStructSchemaPlugin
from asynccoder.entrypoints.http.problems import ERROR_CODES_DOC, EXCEPTION_HANDLERS
from asynccoder.entrypoints.http.rate_limit import (
    document_rate_limits,
    rate_limit_middleware,
    rate_limit_stores,
)
from asynccoder.entrypoints.http.requests import ApiRequest
from asynccoder.entrypoints.http.tasks.routes import TASK_HANDLERS
from asynccoder.entrypoints.http.webhook_endpoints.endpoints import WebhookEndpointController
from asynccoder.entrypoints.observability import (
    configure_error_tracking,
    configure_logging,
    flush_error_tracking,
    flush_tracing,
    http_tracing_plugins,
)
from asynccoder.entrypoints.worker import embedded_worker
from asynccoder.ioc.commands import migrate_to_head
from asynccoder.ioc.core import make_container
from asynccoder.ioc.settings import Settings, load_settings

log = structlog.get_logger("asynccoder.app")


def api_route_handlers() -> list[ControllerRouterHandler]:
    """Every controller mounted under ``/api/v1``."""
    return [
        SessionController,
        SignInSessionController,
        PersonalAccessTokenController,
        ProfileController,
        PasswordController,
        GitHubConnectionController,
        AdminUserController,
        ModelsController,
        AdminModelsController,
        AdminProvidersController,
        ApiKeysController,
        AdminUsageController,
        UserUsageController,
        CreditsController,
        BillingController,
        AdminBillingController,
        StripeWebhookController,
        RepositoryController,
        PullRequestController,
        receive_github_webhook,
        *TASK_HANDLERS,
        WebhookEndpointController,
    ]


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Async Coder API",
        version=__version__,
        description="Hand AI coding work to the machine and get it back later.\n\n" + ERROR_CODES_DOC,
        path="/schema",
        render_plugins=docs_render_plugins(),
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An access JWT, a Clerk session token or a personal access token.",
                )
            }
        ),
        use_handler_docstrings=True,
    )


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for the browser origins in ``CORS_ALLOWED_ORIGINS`` (none: no CORS headers, browsers refuse
    cross-origin calls); credentials (cookies) only with ``CORS_ALLOW_CREDENTIALS=true``."""
    if not settings.cors_allowed_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_allowed_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["authorization", "content-type", "idempotency-key", "last-event-id", "x-request-id"],
        allow_credentials=settings.cors_allow_credentials,
        expose_headers=[
            "location",
            "retry-after",
            "x-request-id",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
        ],
        max_age=600,
    )


def create_app(
    settings: Settings | None = None,
    *,
    overrides: Sequence[Provider] = (),
    extra_route_handlers: Sequence[ControllerRouterHandler] = (),
) -> Litestar:
    """Build the app. Without arguments it reads settings from the environment (used by ASGI servers).

    ``overrides`` replace providers of the default container (tests swap adapters this way).
    """
    settings = settings or load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    configure_error_tracking(settings, release=__version__)
    container = make_container(settings, HttpAuthProvider(), *overrides)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await anyio.to_thread.run_sync(migrate_to_head, settings)
        log.info("started", environment=settings.environment, version=__version__)
        try:
            async with embedded_worker(container, settings):
                yield
        finally:
            await container.close()
            flush_tracing()
            flush_error_tracking()

    # Secure by default: every API route needs a user unless its handler is explicitly marked public.
    api = Router(
        path=API_PREFIX,
        route_handlers=[*api_route_handlers(), *extra_route_handlers],
        guards=[require_user],
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            api,
            docs_assets_router(),
            *([MetricsController] if settings.serves_metrics else []),
        ],
        # Prometheus outermost, so that rate-limited answers are counted too.
        middleware=[prometheus_config().middleware, *rate_limit_middleware(settings)],
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=cors_config(settings),
        lifespan=[lifespan],
        openapi_config=openapi_config(),
        request_max_body_size=settings.max_request_body_bytes,
        debug=False,
        logging_config=None,  # configure_logging owns logging
        plugins=[StrictStructSchemaPlugin(), *http_tracing_plugins(settings)],
        request_class=ApiRequest,
        stores=rate_limit_stores(settings),
    )
    app.state.settings = settings
    _document_security(app)
    document_rate_limits(app)
    setup_dishka(container, app)
    # Outermost, so that even 404s for unknown routes carry a request id and are logged.
    app.asgi_handler = request_id_middleware(
        security_headers_middleware(
            large_body_middleware(app.asgi_handler, threshold=LARGE_BODY_BYTES, limit=cores()),
            hsts=settings.is_production,
        )
    )
    return app


_MALFORMED = problem_response("The request is malformed (`invalid_request` and specific codes)")
_UNAUTHENTICATED = problem_response("No valid credential (`missing_token`, `invalid_token`, `token_expired`)")


def _document_security(app: Litestar) -> None:
    """In OpenAPI, guarded operations require the bearer scheme and document their 401, public ones require
    nothing; an operation that takes input documents its 400 as problem+json (Litestar's default would show
    its own error shape)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            responses = handler.responses or {}
            if route.path.startswith(API_PREFIX) and not handler.opt.get("public"):
                handler.security = [{"bearer": []}]
                if 401 not in responses:
                    responses = {**responses, 401: _UNAUTHENTICATED}
                    handler.responses = responses
            if 400 not in responses and (route.path_parameters or _takes_input(handler)):
                handler.responses = {**responses, 400: _MALFORMED}


def _takes_input(handler: HTTPRouteHandler) -> bool:
    return any(
        name not in {"request", "state", "scope", "dishka_container"}
        and "FromDishka" not in str(field.annotation)
        for name, field in handler.parsed_fn_signature.parameters.items()
    )


def create_app_from_env() -> Any:
    """ASGI factory for servers: ``asynccoder.entrypoints.http.app:create_app_from_env``."""
    return create_app()
