"""Stand-ins for the task engine's side of live events, until the engine's repository exists.

``InMemoryTaskEventRepository`` and ``OwnedTasks`` serve unit tests. ``SqlTaskEvents`` keeps events and task
owners in two test-only tables of the app's own database, so that several API processes share them (the
multi-process SSE tests); ``events_test_routes`` are the test-only HTTP routes that create a task, append an
event (and notify, as the engine will) and report a user's open streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
import sqlalchemy as sa
from dishka import Provider, Scope, provide
from dishka.integrations.litestar import FromDishka, inject
from litestar import get, post
from litestar.params import FromPath, JSONBody
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.application.ports.events import (
    StreamSlots,
    TaskEvent,
    TaskEventAccess,
    TaskEventNotifier,
    TaskEventRepository,
    TaskEventType,
)
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.application.tasks.streaming import TaskEventReader
from asynccoder.domain.identity import Actor


class InMemoryTaskEventRepository(TaskEventRepository):
    """Gap-free per-task sequences in a dict (one process)."""

    def __init__(self) -> None:
        self._events: dict[UUID, list[TaskEvent]] = {}
        self.reads = 0

    async def append(
        self, task_id: UUID, type: TaskEventType, data: dict[str, Any], at: datetime
    ) -> TaskEvent:
        events = self._events.setdefault(task_id, [])
        event = TaskEvent(task_id=task_id, seq=len(events) + 1, type=type, data=dict(data), created_at=at)
        events.append(event)
        return event

    async def list_after(self, task_id: UUID, after_seq: int, *, limit: int) -> list[TaskEvent]:
        self.reads += 1
        return [e for e in self._events.get(task_id, []) if e.seq > after_seq][:limit]


@dataclass
class OwnedTasks(TaskEventAccess):
    """Which user owns which task; owners and admins may watch."""

    owners: dict[UUID, UUID] = field(default_factory=dict)

    async def can_watch(self, actor: Actor, task_id: UUID) -> bool:
        owner = self.owners.get(task_id)
        return owner is not None and (owner == actor.user_id or actor.is_admin)


_metadata = sa.MetaData()
_tasks = sa.Table(
    "test_stream_tasks",
    _metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, nullable=False),
)
_events = sa.Table(
    "test_stream_task_events",
    _metadata,
    sa.Column("task_id", sa.Uuid, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class SqlTaskEvents(TaskEventRepository, TaskEventAccess):
    """Events and owners in test-only tables; every call is one short transaction (streams hold nothing)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create_tables(self) -> None:
        async with self._engine.begin() as conn:
            await conn.run_sync(_metadata.create_all, checkfirst=True)

    async def add_task(self, task_id: UUID, user_id: UUID) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(_tasks.insert().values(id=task_id, user_id=user_id))

    async def can_watch(self, actor: Actor, task_id: UUID) -> bool:
        async with self._engine.connect() as conn:
            owner = (await conn.execute(sa.select(_tasks.c.user_id).where(_tasks.c.id == task_id))).scalar()
        return owner is not None and (owner == actor.user_id or actor.is_admin)

    async def append(
        self, task_id: UUID, type: TaskEventType, data: dict[str, Any], at: datetime
    ) -> TaskEvent:
        next_seq = (
            sa.select(sa.func.coalesce(sa.func.max(_events.c.seq), 0) + 1)
            .where(_events.c.task_id == task_id)
            .scalar_subquery()
        )
        for _attempt in range(20):
            try:
                async with self._engine.begin() as conn:
                    seq = (
                        await conn.execute(
                            _events.insert()
                            .values(task_id=task_id, seq=next_seq, type=type.value, data=data, created_at=at)
                            .returning(_events.c.seq)
                        )
                    ).scalar_one()
                return TaskEvent(task_id=task_id, seq=int(seq), type=type, data=data, created_at=at)
            except IntegrityError:
                continue  # a concurrent append took that number
        raise RuntimeError("could not append the event")

    async def list_after(self, task_id: UUID, after_seq: int, *, limit: int) -> list[TaskEvent]:
        query = (
            sa.select(_events)
            .where(_events.c.task_id == task_id, _events.c.seq > after_seq)
            .order_by(_events.c.seq)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            TaskEvent(
                task_id=row.task_id,
                seq=int(row.seq),
                type=TaskEventType(row.type),
                data=dict(row.data),
                created_at=row.created_at,
            )
            for row in rows
        ]


class SqlTaskEventsProvider(Provider):
    """``TaskEventReader`` and ``TaskEventAccess`` (the engine's to provide) from the test tables."""

    @provide(scope=Scope.APP)
    async def store(self, engine: AsyncEngine) -> AsyncIterator[SqlTaskEvents]:
        store = SqlTaskEvents(engine)
        await store.create_tables()
        yield store

    @provide(scope=Scope.APP)
    def reader(self, store: SqlTaskEvents) -> TaskEventReader:
        return store

    @provide(scope=Scope.APP)
    def access(self, store: SqlTaskEvents) -> TaskEventAccess:
        return store


class NewEvent(msgspec.Struct, forbid_unknown_fields=True):
    type: TaskEventType
    data: dict[str, Any]


@post("/test/tasks", status_code=201)
@inject
async def create_test_task(
    actor: FromDishka[Actor], store: FromDishka[SqlTaskEvents], ids: FromDishka[IdGenerator]
) -> dict[str, str]:
    task_id = ids.new_id()
    await store.add_task(task_id, actor.user_id)
    return {"id": str(task_id)}


@post("/test/tasks/{task_id:uuid}/events", status_code=201)
@inject
async def append_test_event(
    task_id: FromPath[UUID],
    data: JSONBody[NewEvent],
    store: FromDishka[SqlTaskEvents],
    notifier: FromDishka[TaskEventNotifier],
    clock: FromDishka[Clock],
) -> dict[str, int]:
    event = await store.append(task_id, data.type, data.data, clock.now())
    await notifier.notify(task_id, event.seq)  # after the commit, as the engine does
    return {"seq": event.seq}


@get("/test/event-streams")
@inject
async def count_open_streams(actor: FromDishka[Actor], slots: FromDishka[StreamSlots]) -> dict[str, int]:
    return {"open": await slots.count(actor.user_id)}


events_test_routes = [create_test_task, append_test_event, count_open_streams]
