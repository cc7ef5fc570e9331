"""Every task controller, for the app factory."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from asynccoder.entrypoints.http.tasks.analytics import TaskAnalyticsController
from asynccoder.entrypoints.http.tasks.collection import TaskController
from asynccoder.entrypoints.http.tasks.events import stream_task_events
from asynccoder.entrypoints.http.tasks.logs import TaskLogsController
from asynccoder.entrypoints.http.tasks.receipt import TaskReceiptController

TASK_HANDLERS: list[ControllerRouterHandler] = [
    TaskAnalyticsController,
    TaskController,
    stream_task_events,
    TaskLogsController,
    TaskReceiptController,
]
