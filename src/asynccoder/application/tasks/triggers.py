"""Tasks triggered from GitHub: the consumer of the ``repository_events`` outbox the webhook fills."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from asynccoder.application.ports.code_hosting import CodeHost
from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.tasks.engine import CodeHostTokens
from asynccoder.application.tasks.submit import SubmitTask, SubmitTaskInput
from asynccoder.domain.code_hosting import (
    Permission,
    PullRequestState,
    Repository,
    RepositoryAccess,
    RepositoryEvent,
)
from asynccoder.domain.errors import DomainError
from asynccoder.domain.tasks import TaskMode
from asynccoder.domain.triggers import (
    TRIGGER_KEY_PREFIX,
    cap_day_start,
    comment_key,
    parse_mention,
    review_key,
)

log = logging.getLogger("asynccoder.tasks.triggers")

DEFAULT_DAILY_CAP = 20


@dataclass(frozen=True, slots=True)
class TriggerPolicy:
    """``daily_cap_per_repository``: tasks triggers may create per repository per UTC day;
    ``task_url_base``: where a reply links a task (``<PUBLIC_BASE_URL>/api/v1/tasks``)."""

    task_url_base: str
    daily_cap_per_repository: int = DEFAULT_DAILY_CAP
    batch: int = 50


@dataclass(frozen=True, slots=True)
class TriggerOutcome:
    """``outcome``: ``task_created``, ``task_exists`` (a redelivery) or ``skipped`` (with ``reason``)."""

    event_id: UUID
    outcome: str
    reason: str = ""
    task_id: UUID | None = None

    def recorded(self, payload: dict[str, str]) -> dict[str, str]:
        values = {**payload, "outcome": self.outcome}
        if self.reason:
            values["reason"] = self.reason
        if self.task_id is not None:
            values["task_id"] = str(self.task_id)
        return values


def connecting_user(access: list[RepositoryAccess]) -> RepositoryAccess | None:
    """Who pays for auto-reviews: the earliest-connected user with admin access (the one whose connection
    registered the webhook), the user id breaking ties; ``None`` when no admin is connected any more."""
    admins = [a for a in access if a.permission is Permission.ADMIN]
    return min(admins, key=lambda a: (a.created_at, a.user_id), default=None)


class ProcessRepositoryEvents:
    """Turn pending ``repository_events`` into tasks (run by every task worker's maintenance pass).

    Rules:
    - ``auto_review_requested`` (pull request opened, reopened, synchronize, ready_for_review): while the
      repository still has auto-review on and the pull request is open and not a draft, ONE ``pr_review``
      task per head commit, through ``SubmitTask``'s idempotency key ``github:review:<repo>:<number>:<sha>``,
      so redeliveries and repeated notifications of one commit create one task; the connecting user pays
      (``connecting_user``: their own key or credits, as for any task they submit);
    - ``comment_command`` (``@asynccoder <mode> <instructions>`` opening a line of a new issue or pull request
      comment): the commenter must be a platform user whose connected GitHub login matches and who has an
      access row on the repository (unknown commenters are ignored, without a reply); writing modes need
      write access (``SubmitTask`` checks the commenter's row); the commenter pays; one task per comment id;
      ``review`` works on pull requests only. A created task is answered by a comment linking it, posted with
      the commenter's GitHub token;
    - every trigger counts against ``daily_cap_per_repository`` tasks per repository per UTC day; over it
      the event is recorded as skipped (``daily_cap``);
    - a refused submission (no credits, plan concurrency limit, missing access, ...) records the event as
      skipped with the refusal's code; nothing is retried.
    Each event is marked processed once with its outcome (``outcome``, ``reason``, ``task_id`` in its
    payload). The task is created before the event is marked: a crash in between leaves the event pending,
    and the next pass finds the task by its idempotency key instead of creating another. An unexpected error
    leaves the event pending for the next pass and does not stop the others.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        submit: SubmitTask,
        code_host: CodeHost,
        tokens: CodeHostTokens,
        policy: TriggerPolicy,
    ) -> None:
        self._uow, self._clock, self._submit = uow, clock, submit
        self._host, self._tokens, self._policy = code_host, tokens, policy

    async def __call__(self) -> list[TriggerOutcome]:
        async with self._uow as uow:
            pending = await uow.repository_events.list_pending(limit=self._policy.batch)
        outcomes: list[TriggerOutcome] = []
        for event in pending:
            try:
                outcome = await self._handle(event)
            except Exception:  # one bad event must not block the others; it stays pending
                log.exception("repository event %s could not be processed", event.id)
                continue
            async with self._uow as uow:
                await uow.repository_events.mark_processed(
                    event.id, self._clock.now(), payload=outcome.recorded(event.payload)
                )
                await uow.commit()
            outcomes.append(outcome)
        return outcomes

    async def _handle(self, event: RepositoryEvent) -> TriggerOutcome:
        if event.kind == "auto_review_requested":
            return await self._auto_review(event)
        if event.kind == "comment_command":
            return await self._comment(event)
        return TriggerOutcome(event.id, "skipped", "unknown_kind")

    async def _auto_review(self, event: RepositoryEvent) -> TriggerOutcome:
        number = _int(event.payload.get("number"))
        async with self._uow as uow:
            repo = await uow.repositories.get(event.repository_id)
            pull = await uow.pull_requests.get_by_number(event.repository_id, number) if number else None
            access = await uow.repositories.list_access(event.repository_id)
        head_sha = event.payload.get("head_sha") or (pull.head_sha if pull else None) or ""
        if repo is None:
            return TriggerOutcome(event.id, "skipped", "repository_gone")
        if not repo.auto_review:
            return TriggerOutcome(event.id, "skipped", "auto_review_off")
        if number is None or not head_sha:
            return TriggerOutcome(event.id, "skipped", "pull_request_unknown")
        if pull is not None and pull.draft:
            return TriggerOutcome(event.id, "skipped", "draft")
        if pull is not None and pull.state is not PullRequestState.OPEN:
            return TriggerOutcome(event.id, "skipped", "pull_request_closed")
        payer = connecting_user(access)
        if payer is None:
            return TriggerOutcome(event.id, "skipped", "no_connected_admin")
        return await self._create(
            event,
            repo,
            payer.user_id,
            TaskMode.PR_REVIEW,
            f"Review pull request #{number} of {repo.full_name} at commit {head_sha}.",
            number,
            review_key(repo.id, number, head_sha),
        )

    async def _comment(self, event: RepositoryEvent) -> TriggerOutcome:
        payload = event.payload
        number = _int(payload.get("number"))
        command = parse_mention(payload.get("body", ""))
        login = payload.get("author_login", "").lower()
        on_pull_request = payload.get("on_pull_request") == "true"
        async with self._uow as uow:
            repo = await uow.repositories.get(event.repository_id)
            access = await uow.repositories.list_access(event.repository_id)
            commenter: RepositoryAccess | None = None
            for row in sorted(access, key=lambda a: (a.created_at, a.user_id)):
                connection = await uow.github_connections.get(row.user_id)
                if connection is not None and login and connection.login.lower() == login:
                    commenter = row
                    break
        if repo is None:
            return TriggerOutcome(event.id, "skipped", "repository_gone")
        if command is None or number is None:
            return TriggerOutcome(event.id, "skipped", "not_a_command")
        if commenter is None:
            return TriggerOutcome(event.id, "skipped", "unknown_commenter")
        if command.mode is TaskMode.PR_REVIEW and not on_pull_request:
            return TriggerOutcome(event.id, "skipped", "review_needs_pull_request")
        where = "pull request" if on_pull_request else "issue"
        instructions = (
            f"Requested by {payload.get('author_login')} in a comment on {where} #{number} of "
            f"{repo.full_name}:\n\n{command.instructions}"
        )
        outcome = await self._create(
            event,
            repo,
            commenter.user_id,
            command.mode,
            instructions,
            number if command.mode is TaskMode.PR_REVIEW else None,
            comment_key(repo.id, payload.get("comment_id", str(event.id))),
        )
        if outcome.outcome == "task_created" and outcome.task_id is not None:
            url = f"{self._policy.task_url_base.rstrip('/')}/{outcome.task_id}"
            mode = command.mode.value
            body = f"Async Coder queued a {mode} task for this {where}: [{outcome.task_id}]({url})"
            try:
                token = await self._tokens.token_for(commenter.user_id)
                await self._host.post_issue_comment(token, repo.full_name, number, body)
            except DomainError as error:
                reason = f"reply_failed:{error.code}"
                return TriggerOutcome(event.id, outcome.outcome, reason, outcome.task_id)
        return outcome

    async def _create(
        self,
        event: RepositoryEvent,
        repo: Repository,
        payer_id: UUID,
        mode: TaskMode,
        instructions: str,
        pull_request_number: int | None,
        key: str,
    ) -> TriggerOutcome:
        now = self._clock.now()
        async with self._uow as uow:
            user = await uow.users.get(payer_id)
            existing = await uow.tasks.find_by_idempotency_key(payer_id, key)
            used = await uow.tasks.count_for_repository_since(
                repo.id, cap_day_start(now), key_prefix=TRIGGER_KEY_PREFIX
            )
        if existing is not None:
            return TriggerOutcome(event.id, "task_exists", task_id=existing.id)
        if user is None or not user.can_authenticate:
            return TriggerOutcome(event.id, "skipped", "payer_inactive")
        if used >= self._policy.daily_cap_per_repository:
            return TriggerOutcome(event.id, "skipped", "daily_cap")
        try:
            submitted = await self._submit(
                SubmitTaskInput(
                    actor=user.as_actor(),
                    repository_id=repo.id,
                    mode=mode,
                    instructions=instructions,
                    pull_request_number=pull_request_number,
                    model_id=repo.default_model_id,
                    idempotency_key=key,
                )
            )
        except DomainError as error:
            return TriggerOutcome(event.id, "skipped", error.code)
        outcome = "task_exists" if submitted.replayed else "task_created"
        return TriggerOutcome(event.id, outcome, task_id=submitted.task.id)


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number > 0 else None
