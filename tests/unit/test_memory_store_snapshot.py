"""The in-memory store rolls back by copying its containers (rows are immutable and shared)."""

from __future__ import annotations

import copy
import dataclasses

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.tasks import tasks_state
from tests.support.builders import make_user


def test_a_restored_snapshot_undoes_changes_at_every_depth() -> None:
    store = InMemoryStore()
    ada = make_user(email="ada@example.com")
    store.state.users[ada.id] = ada
    tasks_state(store).events[ada.id] = []
    store.state.billing.stripe_events.add("evt_1")
    before = copy.deepcopy(store.state)

    snapshot = store.snapshot()
    state = store.state
    state.users[ada.id] = dataclasses.replace(ada, display_name="Changed")
    state.users[make_user().id] = make_user()
    tasks_state(store).events[ada.id].append("an event")  # type: ignore[arg-type]
    tasks_state(store).repository_locks[ada.id] = ada.id
    state.billing.stripe_events.add("evt_2")
    state.billing.entries.append("an entry")  # type: ignore[arg-type]
    state.ai_catalogue.key_providers = ()
    state.extra["new"] = {"nested": [1]}
    store.restore(snapshot)

    assert store.state == before
    assert store.state.users[ada.id] is ada  # rows are shared, not copied


def test_a_snapshot_does_not_change_when_the_live_state_does() -> None:
    store = InMemoryStore()
    tasks_state(store).events[make_user().id] = []
    snapshot = store.snapshot()
    for events in tasks_state(store).events.values():
        events.append("x")  # type: ignore[arg-type]
    assert all(events == [] for events in snapshot.extra["tasks"].events.values())
