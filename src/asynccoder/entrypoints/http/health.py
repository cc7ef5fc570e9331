"""Liveness and readiness endpoints."""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, get
from litestar.openapi import ResponseSpec

from asynccoder.application.health.check_readiness import CheckReadiness
from asynccoder.entrypoints.http.common import problem_response
from asynccoder.entrypoints.http.problems import problem


class Liveness(msgspec.Struct):
    status: str


class ComponentStatus(msgspec.Struct):
    name: str
    healthy: bool
    reason: str | None = None


class ReadinessReport(msgspec.Struct):
    status: str
    components: list[ComponentStatus]


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = {"public": True}

    @get("/live", operation_id="health_live", summary="The process is up")
    async def live(self) -> Liveness:
        """Answers 200 as long as the process can serve HTTP; checks no dependency."""
        return Liveness(status="ok")

    @get(
        "/ready",
        operation_id="health_ready",
        summary="The platform can serve traffic",
        responses={
            200: ResponseSpec(data_container=ReadinessReport, description="Ready", generate_examples=False),
            503: problem_response("A dependency is down (`not_ready`); `components` names what failed"),
        },
    )
    @inject
    async def ready(
        self, request: Request[Any, Any, Any], check: FromDishka[CheckReadiness]
    ) -> Response[Any]:
        """Checks the database, the schema version and Redis (when configured); 503 names what failed."""
        readiness = await check()
        components = [ComponentStatus(c.name, c.healthy, c.reason) for c in readiness.components]
        if readiness.ready:
            return Response(ReadinessReport(status="ready", components=components))
        failing = ", ".join(c.name for c in components if not c.healthy)
        return problem(
            request,
            status=503,
            code="not_ready",
            detail=f"Not ready: {failing}.",
            extra={"components": [msgspec.to_builtins(c) for c in components]},
        )
