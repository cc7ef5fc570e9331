"""The SSE event source: replay after Last-Event-ID, follow live, heartbeats, the stream cap, and ending."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from asynccoder.adapters.channels.backends import memory_backend
from asynccoder.adapters.channels.notifier import ChannelsTaskEventNotifier
from asynccoder.adapters.memory.stream_slots import InMemoryStreamSlots
from asynccoder.application.ports.events import TaskEvent, TaskEventType
from asynccoder.application.tasks.streaming import (
    Heartbeat,
    OpenTaskEventStream,
    OpenTaskEventStreamInput,
    StreamSettings,
    TaskEventStream,
    parse_last_event_id,
)
from asynccoder.domain.errors import InvalidInput, NotFound, TooManyRequests
from asynccoder.domain.identity import Actor, Role
from tests.support.system import ManualClock, SequentialIdGenerator
from tests.support.task_events import InMemoryTaskEventRepository, OwnedTasks

ADA = Actor(user_id=UUID(int=1), role=Role.USER)
BOB = Actor(user_id=UUID(int=2), role=Role.USER)
ADMIN = Actor(user_id=UUID(int=3), role=Role.ADMIN)
TASK = UUID(int=100)


async def until(predicate: Any, deadline: float = 5.0) -> None:
    """Poll ``predicate`` (sync) until true or the deadline passes."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.005)


@dataclass
class World:
    repo: InMemoryTaskEventRepository
    notifier: ChannelsTaskEventNotifier
    slots: InMemoryStreamSlots
    clock: ManualClock
    access: OwnedTasks
    settings: StreamSettings
    ids: SequentialIdGenerator = field(default_factory=SequentialIdGenerator)

    def use_case(self, **overrides: Any) -> OpenTaskEventStream:
        settings = dataclasses.replace(self.settings, **overrides)
        return OpenTaskEventStream(
            self.repo, self.notifier, self.access, self.slots, self.clock, self.ids, settings
        )

    async def open(self, actor: Actor = ADA, last_event_id: str | None = None) -> TaskEventStream:
        return await self.use_case()(OpenTaskEventStreamInput(actor, TASK, last_event_id))

    async def emit(self, type: TaskEventType = TaskEventType.LOG, **data: Any) -> TaskEvent:
        event = await self.repo.append(TASK, type, data, self.clock.now())
        await self.notifier.notify(TASK, event.seq)
        return event

    async def finish(self) -> TaskEvent:
        return await self.emit(TaskEventType.STATUS, status="succeeded")


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = ManualClock()
    async with ChannelsTaskEventNotifier(memory_backend(), coalesce_seconds=0.01) as notifier:
        yield World(
            repo=InMemoryTaskEventRepository(),
            notifier=notifier,
            slots=InMemoryStreamSlots(clock),
            clock=clock,
            access=OwnedTasks({TASK: ADA.user_id}),
            settings=StreamSettings(max_streams_per_user=2, heartbeat_seconds=0.05),
        )


async def collect(stream: TaskEventStream, *, events: int | None = None) -> list[TaskEvent]:
    seen: list[TaskEvent] = []
    async for item in stream:
        if isinstance(item, TaskEvent):
            seen.append(item)
            if events is not None and len(seen) == events:
                break
    return seen


async def test_a_stream_replays_every_event_in_order_and_ends_after_the_final_status(world: World) -> None:
    for n in range(3):
        await world.emit(line=n)
    await world.finish()

    seen = await asyncio.wait_for(collect(await world.open()), 5)

    assert [e.seq for e in seen] == [1, 2, 3, 4]
    assert seen[-1].data == {"status": "succeeded"}


async def test_a_resumed_stream_starts_strictly_after_last_event_id(world: World) -> None:
    for n in range(5):
        await world.emit(line=n)
    await world.finish()

    seen = await asyncio.wait_for(collect(await world.open(last_event_id="3")), 5)

    assert [e.seq for e in seen] == [4, 5, 6]


async def test_events_appended_while_streaming_arrive_once_each_in_order(world: World) -> None:
    await world.emit(line=0)
    stream = await world.open()
    consumer = asyncio.create_task(collect(stream))
    await until(lambda: world.notifier.listener_count(TASK) == 1)
    for n in range(1, 50):
        await world.emit(line=n)
        if n % 10 == 0:
            await asyncio.sleep(0)  # let some notifications out mid-way
    await world.finish()

    seen = await asyncio.wait_for(consumer, 5)

    assert [e.seq for e in seen] == list(range(1, 52))


async def test_an_idle_stream_sends_heartbeats(world: World) -> None:
    stream = await world.open()
    items: list[object] = []
    async for item in stream:
        items.append(item)
        if len(items) == 2:
            break
    await stream.aclose()

    assert items == [Heartbeat(), Heartbeat()]


async def test_a_lost_notification_is_caught_up_at_the_next_heartbeat(world: World) -> None:
    stream = await world.open()
    await world.repo.append(TASK, TaskEventType.LOG, {"line": "never notified"}, world.clock.now())

    seen = await asyncio.wait_for(collect(stream, events=1), 5)
    await stream.aclose()

    assert seen[0].data == {"line": "never notified"}


async def test_closing_a_waiting_stream_stops_it_and_frees_its_slot_and_subscription(world: World) -> None:
    stream = await world.open()
    consumer = asyncio.create_task(collect(stream))
    await until(lambda: world.notifier.listener_count(TASK) == 1)
    assert await world.slots.count(ADA.user_id) == 1

    consumer.cancel()  # what the server does when the client goes away
    with pytest.raises(asyncio.CancelledError):
        await consumer

    assert await world.slots.count(ADA.user_id) == 0
    await until(lambda: world.notifier.listener_count(TASK) == 0)
    await stream.aclose()  # the response's background task does this too: harmless a second time
    assert await world.slots.count(ADA.user_id) == 0


async def test_a_stream_closed_between_two_events_frees_its_slot(world: World) -> None:
    await world.emit(line=1)
    stream = await world.open()
    iterator = aiter(stream)
    first = await anext(iterator)  # suspended at its yield, as when a send to the client fails
    assert isinstance(first, TaskEvent)

    await stream.aclose()

    assert await world.slots.count(ADA.user_id) == 0
    await until(lambda: world.notifier.listener_count(TASK) == 0)


async def test_a_stream_that_was_never_iterated_frees_its_slot_on_close(world: World) -> None:
    stream = await world.open()
    assert await world.slots.count(ADA.user_id) == 1

    await stream.aclose()

    assert await world.slots.count(ADA.user_id) == 0


async def test_a_user_may_open_only_so_many_streams_at_once(world: World) -> None:
    first = await world.open()
    await world.open()

    with pytest.raises(TooManyRequests) as refused:
        await world.open()
    assert refused.value.code == "too_many_streams"
    assert refused.value.limit == 2
    assert refused.value.retry_after >= 1

    await first.aclose()
    await world.open()  # a freed slot can be taken again


async def test_the_cap_is_per_user(world: World) -> None:
    world.access.owners[TASK] = ADA.user_id
    await world.open(ADA)
    await world.open(ADA)

    await world.open(ADMIN)  # admins may watch anyone's task, on their own slots


async def test_someone_elses_task_looks_like_no_task(world: World) -> None:
    with pytest.raises(NotFound) as hidden:
        await world.open(BOB)
    assert hidden.value.code == "task_not_found"
    assert await world.slots.count(BOB.user_id) == 0


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "٣", "99999999999999999999", " 1 2"])
async def test_a_malformed_last_event_id_is_refused(world: World, raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await world.open(last_event_id=raw)
    assert refused.value.code == "invalid_last_event_id"


async def test_a_last_event_id_that_names_no_event_is_refused(world: World) -> None:
    await world.emit(line=1)

    with pytest.raises(InvalidInput):
        await world.open(last_event_id="2")


@pytest.mark.parametrize(("raw", "seq"), [(None, 0), ("", 0), (" 7 ", 7), ("0", 0)])
def test_last_event_id_parses_to_a_sequence(raw: str | None, seq: int) -> None:
    assert parse_last_event_id(raw) == seq


async def test_resuming_after_the_final_event_has_nothing_to_stream(world: World) -> None:
    await world.emit(line=1)
    final = await world.finish()

    stream = await world.open(last_event_id=str(final.seq))

    assert stream.complete
    assert await collect(stream) == []
    assert await world.slots.count(ADA.user_id) == 0


async def test_resuming_at_the_final_event_still_sends_what_came_after_it(world: World) -> None:
    final = await world.finish()
    await world.emit(TaskEventType.USAGE, credits=3)

    seen = await asyncio.wait_for(collect(await world.open(last_event_id=str(final.seq))), 5)

    assert [e.type for e in seen] == [TaskEventType.USAGE]


async def test_a_long_backlog_is_read_in_pages(world: World) -> None:
    for n in range(25):
        await world.emit(line=n)
    await world.finish()
    stream = await world.use_case(page_size=10)(OpenTaskEventStreamInput(ADA, TASK))

    seen = await asyncio.wait_for(collect(stream), 5)

    assert [e.seq for e in seen] == list(range(1, 27))


async def test_a_long_stream_renews_its_slot(world: World) -> None:
    use_case = world.use_case(max_streams_per_user=1, heartbeat_seconds=0.02)
    stream = await use_case(OpenTaskEventStreamInput(ADA, TASK))
    heartbeats = 0
    async for item in stream:
        assert isinstance(item, Heartbeat)
        heartbeats += 1
        world.clock.advance(timedelta(seconds=2))  # past the lease (3 s) unless renewed on the way
        if heartbeats == 5:
            break

    assert await world.slots.count(ADA.user_id) == 1
    await stream.aclose()
