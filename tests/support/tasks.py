"""Builders for task tests: a task with sensible defaults, and a user + repository to hang tasks on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.code_hosting import Repository
from asynccoder.domain.identity import User
from asynccoder.domain.tasks import DEFAULT_PRIORITY, Task, TaskMode, TaskStatus
from tests.support.builders import T0, make_user, new_id
from tests.support.code_hosting import make_repository


def make_task(user_id: Any, repository_id: Any, **overrides: Any) -> Task:
    values: dict[str, Any] = {
        "id": new_id(),
        "user_id": user_id,
        "repository_id": repository_id,
        "mode": TaskMode.ASK,
        "instructions": "Explain the build.",
        "budget_cap_credits": 100,
        "priority": DEFAULT_PRIORITY,
        "priority_class": 0,
        "concurrency_limit": 100,
        "status": TaskStatus.QUEUED,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return Task(**values)


async def seed_owner(
    new_uow: Callable[[], UnitOfWork], *, users: int = 1, repositories: int = 1
) -> tuple[list[User], list[Repository]]:
    """Stores ``users`` users and ``repositories`` repositories (no access rows)."""
    people = [make_user() for _ in range(users)]
    repos = [
        make_repository(host_id=None, host="local", full_name=f"acme/repo{i}-{new_id().hex[:12]}")
        for i in range(repositories)
    ]
    async with new_uow() as uow:
        for person in people:
            await uow.users.add(person)
        for repo in repos:
            await uow.repositories.add(repo)
        await uow.commit()
    return people, repos
