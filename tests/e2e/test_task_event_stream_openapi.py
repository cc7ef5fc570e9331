"""How the live-events route documents itself once wired (as the integrator will wire it)."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from asynccoder.entrypoints.http.app import create_app
from asynccoder.entrypoints.http.tasks.events import stream_task_events
from asynccoder.ioc.events import TaskEventsProvider
from tests.support.app import make_settings
from tests.support.task_events import SqlTaskEventsProvider


async def test_the_event_stream_operation_documents_its_media_type_header_and_errors() -> None:
    app = create_app(
        make_settings(),
        overrides=[TaskEventsProvider(), SqlTaskEventsProvider()],
        extra_route_handlers=[stream_task_events],
    )
    async with AsyncTestClient(app) as client:
        document = (await client.get("/schema/openapi.json")).json()

    operation = document["paths"]["/api/v1/tasks/{task_id}/events"]["get"]
    assert operation["operationId"] == "streamTaskEvents"
    assert operation["tags"] == ["tasks"]
    assert operation["security"] == [{"bearer": []}]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {"204", "400", "404", "429"} <= operation["responses"].keys()
    headers = [p for p in operation["parameters"] if p["in"] == "header"]
    assert [(p["name"], p["required"]) for p in headers] == [("Last-Event-ID", False)]
