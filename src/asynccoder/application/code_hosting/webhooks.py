"""Ingesting GitHub webhook deliveries."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from asynccoder.application.code_hosting.repositories import CodeHostingConfig
from asynccoder.application.ports.code_hosting import (
    CommentSnapshot,
    HostRepositoryRef,
    IssueCommentDelivered,
    MemberChanged,
    PingDelivered,
    PullRequestDelivered,
    PullRequestSnapshot,
    PushDelivered,
    RepositoriesRemoved,
    RepositoryChanged,
    ReviewCommentDelivered,
    ReviewDelivered,
    WebhookDecoder,
    WebhookDelivery,
    WebhookEnvelope,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
    SecretBox,
    SecretUnreadable,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.code_hosting import (
    CommentKind,
    PullRequest,
    PullRequestComment,
    PullRequestReview,
    PullRequestState,
    Repository,
    RepositoryEvent,
    validate_full_name,
    webhook_secret_context,
)
from asynccoder.domain.errors import Conflict, InvalidInput
from asynccoder.domain.triggers import MAX_COMMAND_LENGTH, parse_mention

HOST = "github"
MAX_DELIVERY_ID = 100
MAX_EVENT_NAME = 64
_ZERO_SHA = "0" * 40
_PR_ACTIONS = {
    "opened",
    "synchronize",
    "edited",
    "closed",
    "reopened",
    "ready_for_review",
    "converted_to_draft",
}
_AUTO_REVIEW_ACTIONS = {"opened", "reopened", "synchronize", "ready_for_review"}


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """``status``: processed, duplicate, ignored (nothing written) or pong."""

    status: str
    detail: str = ""


def clean_text(value: str | None, limit: int) -> str | None:
    """Text safe for every database: no NUL, valid UTF-8, at most ``limit`` characters."""
    if value is None:
        return None
    text = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


class IngestGitHubWebhook:
    """Verify, deduplicate and record one GitHub delivery.

    Rules: the ``X-GitHub-Event`` and ``X-GitHub-Delivery`` headers are required (400
    ``webhook_headers_missing``); ``X-Hub-Signature-256`` must be the HMAC-SHA256 of the raw body under the
    repository's webhook secret (or the GitHub App secret when configured), compared in constant time (400
    ``webhook_signature_missing``/``webhook_signature_invalid``), and nothing is written before it is
    verified; a delivery for a repository the platform does not know is ignored. A malformed payload is 400
    ``webhook_payload_invalid``. Each delivery id has its effect once: the dedupe record and the effect
    commit in one transaction, so a failure rolls both back and the redelivery applies it. ``ping`` answers
    pong. Recorded: pull_request (opened, synchronize, edited, closed incl. merged, reopened, ready/draft),
    pull_request_review, pull_request_review_comment, issue_comment on pull requests, push to tracked
    branches; repository deleted/transferred, installation_repositories removed and member removed
    disconnect; member edited mirrors the new permission level (matched by GitHub login). Older snapshots
    never replace newer ones. Slow follow-ups are written to the repository_events outbox: auto-review of
    an open, non-draft pull request (``auto_review_requested``) and a new issue or pull request comment
    carrying an ``@asynccoder <mode>`` command (``comment_command``). Every other event or action is
    acknowledged and ignored.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        decoder: WebhookDecoder,
        box: SecretBox,
        clock: Clock,
        ids: IdGenerator,
        config: CodeHostingConfig,
    ) -> None:
        self._uow = uow
        self._decoder = decoder
        self._box = box
        self._clock = clock
        self._ids = ids
        self._config = config

    async def __call__(self, delivery: WebhookDelivery) -> WebhookOutcome:
        event = (delivery.event or "").strip()
        delivery_id = (delivery.delivery_id or "").strip()
        if not event or not delivery_id or len(event) > MAX_EVENT_NAME or len(delivery_id) > MAX_DELIVERY_ID:
            raise InvalidInput(
                "X-GitHub-Event and X-GitHub-Delivery are required.", code="webhook_headers_missing"
            )
        envelope = self._decoder.read_envelope(delivery)

        repository, secrets = await self._candidates(envelope)
        if not secrets:
            return WebhookOutcome("ignored", "unknown repository")
        if not self._decoder.verifies(delivery, secrets):
            raise InvalidInput("The signature does not match the payload.", code="webhook_signature_invalid")
        payload = self._decoder.decode(delivery)
        if isinstance(payload, PingDelivered):
            return WebhookOutcome("pong")
        if payload is None:
            return WebhookOutcome("ignored", "event not handled")
        now = self._clock.now()
        async with self._uow as uow:
            if not await uow.github_deliveries.record(delivery_id, event, now):
                return WebhookOutcome("duplicate")
            current = await uow.repositories.get(repository.id) if repository is not None else None
            match payload:
                case PullRequestDelivered():
                    detail = await self._pull_request(uow, current, payload, now)
                case ReviewDelivered():
                    detail = await self._review(uow, current, payload, now)
                case ReviewCommentDelivered():
                    detail = await self._review_comment(uow, current, payload, now)
                case IssueCommentDelivered():
                    detail = await self._issue_comment(uow, current, payload, now)
                case PushDelivered():
                    detail = await self._push(uow, current, payload, now)
                case RepositoryChanged():
                    detail = await self._repository(uow, current, payload)
                case RepositoriesRemoved():
                    detail = await self._installation_repositories(uow, payload)
                case MemberChanged():
                    detail = await self._member(uow, current, payload, now)
            await uow.commit()
        return WebhookOutcome("processed", detail)

    async def _candidates(self, envelope: WebhookEnvelope) -> tuple[Repository | None, list[str]]:
        secrets: list[str] = []
        repository: Repository | None = None
        ref = envelope.repository
        if ref is not None:
            async with self._uow as uow:
                repository = await self._find(uow, ref)
                webhook = await uow.repositories.get_webhook(repository.id) if repository else None
            if webhook is not None:
                with contextlib.suppress(SecretUnreadable):
                    secrets.append(
                        self._box.decrypt(
                            webhook.sealed_secret,
                            context=webhook_secret_context(webhook.id, webhook.repository_id),
                        )
                    )
        if self._config.app_webhook_secret:
            secrets.append(self._config.app_webhook_secret)
        return repository, secrets

    # --- effects (inside the delivery's transaction) ----------------------------------------------------

    async def _pull_request(
        self,
        uow: UnitOfWork,
        repo: Repository | None,
        payload: PullRequestDelivered,
        now: datetime,
    ) -> str:
        if repo is None or payload.action not in _PR_ACTIONS or payload.pull_request is None:
            return "ignored"
        stored = await self._store_pull_request(uow, repo, payload.pull_request, now)
        if (
            repo.auto_review
            and payload.action in _AUTO_REVIEW_ACTIONS
            and stored.state is PullRequestState.OPEN
            and not stored.draft
        ):
            await uow.repository_events.add(
                RepositoryEvent(
                    id=self._ids.new_id(),
                    repository_id=repo.id,
                    kind="auto_review_requested",
                    created_at=now,
                    pull_request_id=stored.id,
                    payload={"number": str(stored.number), "head_sha": stored.head_sha or ""},
                )
            )
        return f"pull_request {payload.action}"

    async def _store_pull_request(
        self, uow: UnitOfWork, repo: Repository, pr: PullRequestSnapshot, now: datetime
    ) -> PullRequest:
        return await uow.pull_requests.upsert(
            PullRequest(
                id=self._ids.new_id(),
                repository_id=repo.id,
                number=pr.number,
                title=clean_text(pr.title, 1024) or "",
                body=clean_text(pr.body, 65536),
                state=pr.state,
                author_login=_login(pr.author_login),
                head_ref=clean_text(pr.head_ref, 255) or "",
                head_sha=clean_text(pr.head_sha, 64),
                base_ref=clean_text(pr.base_ref, 255) or "",
                html_url=clean_text(pr.html_url, 2048),
                draft=pr.draft,
                merged_at=pr.merged_at,
                closed_at=pr.closed_at,
                source_updated_at=pr.updated_at or now,
                created_at=now,
                updated_at=now,
            )
        )

    async def _pull_request_stub(
        self, uow: UnitOfWork, repo: Repository, number: int, title: str | None, now: datetime
    ) -> PullRequest:
        existing = await uow.pull_requests.get_by_number(repo.id, number)
        if existing is not None:
            return existing
        return await uow.pull_requests.upsert(
            PullRequest(
                id=self._ids.new_id(),
                repository_id=repo.id,
                number=number,
                title=clean_text(title, 1024) or "",
                state=PullRequestState.OPEN,
                author_login=None,
                head_ref="",
                head_sha=None,
                base_ref="",
                html_url=None,
                created_at=now,
                updated_at=now,
                source_updated_at=None,  # any real snapshot replaces the stub
            )
        )

    async def _review(
        self,
        uow: UnitOfWork,
        repo: Repository | None,
        payload: ReviewDelivered,
        now: datetime,
    ) -> str:
        if repo is None or payload.review is None or payload.pull_request is None:
            return "ignored"
        if payload.action not in {"submitted", "edited", "dismissed"}:
            return "ignored"
        pull = await self._store_pull_request(uow, repo, payload.pull_request, now)
        review = payload.review
        state = "dismissed" if payload.action == "dismissed" else (review.state or "commented").lower()
        await uow.pull_requests.upsert_review(
            PullRequestReview(
                id=self._ids.new_id(),
                pull_request_id=pull.id,
                host_review_id=review.host_review_id,
                author_login=_login(review.author_login),
                state=clean_text(state, 32) or "commented",
                body=clean_text(review.body, 65536),
                commit_sha=clean_text(review.commit_sha, 64),
                submitted_at=review.submitted_at,
                created_at=now,
                updated_at=now,
            )
        )
        return f"pull_request_review {payload.action}"

    def _comment(
        self, pull: PullRequest, kind: CommentKind, comment: CommentSnapshot, deleted: bool, now: datetime
    ) -> PullRequestComment:
        return PullRequestComment(
            id=self._ids.new_id(),
            pull_request_id=pull.id,
            kind=kind,
            host_comment_id=comment.host_comment_id,
            author_login=_login(comment.author_login),
            body=clean_text(comment.body, 65536) or "",
            path=clean_text(comment.path, 4096),
            line=comment.line,
            review_id=comment.review_id,
            deleted=deleted,
            source_updated_at=comment.updated_at,
            created_at=now,
            updated_at=now,
        )

    async def _review_comment(
        self,
        uow: UnitOfWork,
        repo: Repository | None,
        payload: ReviewCommentDelivered,
        now: datetime,
    ) -> str:
        if repo is None or payload.comment is None or payload.pull_request is None:
            return "ignored"
        if payload.action not in {"created", "edited", "deleted"}:
            return "ignored"
        pull = await self._store_pull_request(uow, repo, payload.pull_request, now)
        await uow.pull_requests.upsert_comment(
            self._comment(pull, CommentKind.REVIEW_COMMENT, payload.comment, payload.action == "deleted", now)
        )
        return f"pull_request_review_comment {payload.action}"

    async def _issue_comment(
        self,
        uow: UnitOfWork,
        repo: Repository | None,
        payload: IssueCommentDelivered,
        now: datetime,
    ) -> str:
        number, comment = payload.issue_number, payload.comment
        if repo is None or comment is None or number is None:
            return "ignored"
        command = payload.action == "created" and await self._record_command(uow, repo, payload, now)
        if not payload.on_pull_request or payload.action not in {"created", "edited", "deleted"}:
            return "issue_comment command" if command else "ignored"  # a comment on a plain issue
        pull = await self._pull_request_stub(uow, repo, number, payload.issue_title, now)
        await uow.pull_requests.upsert_comment(
            self._comment(pull, CommentKind.ISSUE_COMMENT, comment, payload.action == "deleted", now)
        )
        return f"issue_comment {payload.action}"

    async def _record_command(
        self, uow: UnitOfWork, repo: Repository, payload: IssueCommentDelivered, now: datetime
    ) -> bool:
        """A new comment carrying an ``@asynccoder`` command becomes a ``comment_command`` outbox row (bots'
        comments never do, so a reply cannot trigger anything)."""
        number, comment = payload.issue_number, payload.comment
        assert comment is not None
        assert number is not None
        body = clean_text(comment.body, MAX_COMMAND_LENGTH + 200) or ""
        login = _login(comment.author_login)
        if not login or comment.author_is_bot or parse_mention(body) is None:
            return False
        await uow.repository_events.add(
            RepositoryEvent(
                id=self._ids.new_id(),
                repository_id=repo.id,
                kind="comment_command",
                created_at=now,
                payload={
                    "number": str(number),
                    "comment_id": str(comment.host_comment_id),
                    "author_login": login,
                    "on_pull_request": "true" if payload.on_pull_request else "false",
                    "body": body,
                },
            )
        )
        return True

    async def _push(
        self, uow: UnitOfWork, repo: Repository | None, payload: PushDelivered, now: datetime
    ) -> str:
        ref = payload.ref
        if repo is None or not ref.startswith("refs/heads/") or not payload.after:
            return "ignored"
        branch = ref.removeprefix("refs/heads/")
        if payload.deleted or payload.after == _ZERO_SHA or not repo.tracks(branch):
            return "ignored"
        pushed_at = payload.pushed_at or now
        await uow.repositories.record_push(repo.id, clean_text(payload.after, 64) or "", pushed_at)
        return "push recorded"

    async def _repository(self, uow: UnitOfWork, repo: Repository | None, payload: RepositoryChanged) -> str:
        if repo is None:
            return "ignored"
        if payload.action in {"deleted", "transferred"}:
            await self._disconnect(uow, repo.id)
            return f"repository {payload.action}: disconnected"
        if payload.action == "renamed" and payload.full_name:
            try:
                new_name = validate_full_name(clean_text(payload.full_name, 140) or "")
                await uow.repositories.update(replace(repo, full_name=new_name))
            except (InvalidInput, Conflict):
                return "ignored"
            return "repository renamed"
        return "ignored"

    async def _installation_repositories(self, uow: UnitOfWork, payload: RepositoriesRemoved) -> str:
        if payload.action != "removed" or not payload.removed:
            return "ignored"
        removed = 0
        for ref in payload.removed:
            found = await self._find(uow, ref)
            if found is not None:
                await self._disconnect(uow, found.id)
                removed += 1
        return f"installation_repositories removed: {removed} disconnected"

    async def _member(
        self, uow: UnitOfWork, repo: Repository | None, payload: MemberChanged, now: datetime
    ) -> str:
        login = payload.login
        if repo is None or not login or payload.action not in {"removed", "edited"}:
            return "ignored"
        level = None
        if payload.action == "edited":
            level = payload.permission
            if level is None:
                return "ignored"
        for access in await uow.repositories.list_access(repo.id):
            connection = await uow.github_connections.get(access.user_id)
            if connection is None or connection.login.lower() != login.lower():
                continue
            if level is None:
                await uow.repositories.delete_access(access.user_id, repo.id)
            else:
                await uow.repositories.save_access(replace(access, permission=level, updated_at=now))
        if level is None and not await uow.repositories.list_access(repo.id):
            await uow.repositories.delete_webhook(repo.id)
        return f"member {payload.action}"

    async def _find(self, uow: UnitOfWork, ref: HostRepositoryRef) -> Repository | None:
        full_name = clean_text(ref.full_name, 140) or ""
        if ref.host_id is None and not full_name:
            return None
        return await uow.repositories.find(HOST, ref.host_id, full_name)

    async def _disconnect(self, uow: UnitOfWork, repository_id: UUID) -> None:
        await uow.repositories.delete_all_access(repository_id)
        await uow.repositories.delete_webhook(repository_id)


def _login(login: str | None) -> str | None:
    return clean_text(login, 100)
