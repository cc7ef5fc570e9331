"""``/api/v1/tasks/analytics``: counts, durations and usage of one's tasks (admins: everyone's)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get
from litestar.params import QueryParameter

from asynccoder.application.ports.system import Clock
from asynccoder.application.tasks.manage import TaskAnalytics, TaskAnalyticsInput
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.common import problem_response
from asynccoder.entrypoints.http.tasks.schemas import INVALID, AnalyticsOut, analytics_out


class TaskAnalyticsController(Controller):
    path = "/tasks/analytics"
    tags = ["tasks"]

    @get(
        "/",
        operation_id="tasks_analytics",
        summary="Task analytics",
        responses={
            **INVALID,
            403: problem_response("`all_users` needs the admin role (`forbidden`)"),
            422: problem_response("The date range is not valid (`validation_failed`)"),
        },
        description=TaskAnalytics.__doc__,
    )
    @inject
    async def analytics(
        self,
        actor: FromDishka[Actor],
        analytics: FromDishka[TaskAnalytics],
        clock: FromDishka[Clock],
        start: Annotated[
            date | None, QueryParameter(description="First UTC day (default: 30 days ago)")
        ] = None,
        end: Annotated[date | None, QueryParameter(description="Last UTC day (default: today)")] = None,
        all_users: Annotated[bool, QueryParameter(description="Everyone's tasks (admins only)")] = False,
    ) -> AnalyticsOut:
        today = clock.now().date()
        last = end or today
        first = start or last - timedelta(days=30)
        return analytics_out(await analytics(TaskAnalyticsInput(actor, first, last, all_users)))
