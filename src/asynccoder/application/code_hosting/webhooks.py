"""Ingesting GitHub webhook deliveries."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.application.code_hosting.pull_requests import pull_request_from_host
from asynccoder.application.code_hosting.repositories import (
    CodeHostingConfig,
    UserTokens,
    delete_hook_at_host,
)
from asynccoder.application.ports.code_hosting import (
    CodeHost,
    CommentSnapshot,
    HostedPullRequest,
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
    WebhookEvent,
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
    Permission,
    PullRequest,
    PullRequestComment,
    PullRequestReview,
    PullRequestState,
    Repository,
    RepositoryEvent,
    RepositoryWebhook,
    Visibility,
    validate_branch_name,
    validate_full_name,
    webhook_secret_context,
)
from asynccoder.domain.errors import Conflict, InvalidInput, NotFound, Refused, TooManyRequests, Unavailable
from asynccoder.domain.triggers import MAX_COMMAND_LENGTH, parse_mention

log = logging.getLogger("asynccoder.code_hosting.webhooks")

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


@dataclass(slots=True)
class _Facts:
    """What the code host's API confirmed before the delivery's transaction (no transaction stays open
    while GitHub is called): repositories that are really gone, each affected member's current level
    (``None``: no access any more), the pull request a comment belongs to, and the tokens that may delete
    a hook the platform forgets."""

    gone: set[UUID] = field(default_factory=set)
    moved_to: dict[UUID, str] = field(default_factory=dict)  # the new name of a transferred repository
    members: dict[UUID, Permission | None] = field(default_factory=dict)
    pull_request: HostedPullRequest | None = None
    tokens: dict[UUID, list[str]] = field(default_factory=dict)


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
    verified; a delivery for a repository the platform does not know (matched by GitHub's repository id: a
    repository of the same name with another id is not the same one) is acknowledged as ignored and nothing is
    written, even when verified with the app secret. A malformed payload, or a body whose shape is not that of
    the announced ``X-GitHub-Event`` (the header is not signed), is 400 ``webhook_payload_invalid``. Each
    delivery id has its effect once: the dedupe record and the effect commit in one transaction, so a failure
    rolls both back and the redelivery applies it; a delivery id already recorded is answered ``duplicate`` at
    once, before any verification work, and writes nothing. ``ping`` answers pong. Recorded: pull_request
    (opened, synchronize, edited, closed incl. merged, reopened, ready/draft), pull_request_review,
    pull_request_review_comment, issue_comment on pull requests (a pull request the platform has not seen is
    read from the API), push to tracked branches, with GitHub's own times; repository edited (default branch),
    privatized and publicized mirror the repository. Destructive effects happen only once the API confirms
    them with the stored users' tokens: repository deleted/transferred and installation_repositories removed
    disconnect when the repository is no longer visible (or has moved); member removed/edited (matched by
    GitHub user id) mirror the member's level as the API reports it with the member's own token (404: access
    removed), or, when that token is revoked, as the collaborator permission another user's token reads. When
    the platform forgets a repository its hook is deleted at GitHub, best effort. GitHub unreachable or
    rate-limiting while confirming is ``Unavailable`` (503, nothing written). Older snapshots never replace
    newer ones. Slow follow-ups are written to the repository_events outbox: auto-review of an open, non-draft
    pull request (``auto_review_requested``) and a new issue or pull request comment carrying an ``@asynccoder
    <mode>`` command (``comment_command``). Every other event or action is acknowledged and ignored.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        decoder: WebhookDecoder,
        box: SecretBox,
        clock: Clock,
        ids: IdGenerator,
        config: CodeHostingConfig,
        code_host: CodeHost,
        tokens: UserTokens,
    ) -> None:
        self._uow = uow
        self._decoder = decoder
        self._box = box
        self._clock = clock
        self._ids = ids
        self._config = config
        self._host = code_host
        self._tokens = tokens

    async def __call__(self, delivery: WebhookDelivery) -> WebhookOutcome:
        event = (delivery.event or "").strip()
        delivery_id = (delivery.delivery_id or "").strip()
        if not event or not delivery_id or len(event) > MAX_EVENT_NAME or len(delivery_id) > MAX_DELIVERY_ID:
            raise InvalidInput(
                "X-GitHub-Event and X-GitHub-Delivery are required.", code="webhook_headers_missing"
            )
        # A redelivery is answered before the secret is decrypted and the body HMAC'd and decoded: the
        # answer writes nothing, and the transaction below still records the id atomically with the effect.
        async with self._uow.read_only() as uow:
            if await uow.github_deliveries.seen(delivery_id):
                return WebhookOutcome("duplicate")
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
        known: list[Repository] = []
        if isinstance(payload, RepositoriesRemoved):
            known = await self._known(payload)
        elif repository is not None:
            known = [repository]
        if not known:
            return WebhookOutcome("ignored", "unknown repository")
        try:
            facts = await self._confirm(known, payload)
        except TooManyRequests:
            # Nothing is written; GitHub's redelivery (from the hook's settings) applies it later.
            raise Unavailable(
                "GitHub is rate-limiting the platform; redeliver later.", code="code_host_rate_limited"
            ) from None
        now = self._clock.now()
        forgotten: list[tuple[Repository, RepositoryWebhook]] = []
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
                    detail = await self._issue_comment(uow, current, payload, facts, now)
                case PushDelivered():
                    detail = await self._push(uow, current, payload, now)
                case RepositoryChanged():
                    detail = await self._repository(uow, current, payload, facts, forgotten, now)
                case RepositoriesRemoved():
                    detail = await self._installation_repositories(uow, known, facts, forgotten)
                case MemberChanged():
                    detail = await self._member(uow, current, facts, forgotten, now)
            await uow.commit()
        for repo, webhook in forgotten:
            if webhook.host_hook_id is not None:
                await delete_hook_at_host(
                    self._host,
                    facts.tokens.get(repo.id, []),
                    facts.moved_to.get(repo.id, repo.full_name),
                    webhook.host_hook_id,
                )
        return WebhookOutcome("processed", detail)

    async def _known(self, payload: RepositoriesRemoved) -> list[Repository]:
        if payload.action != "removed":
            return []
        found: dict[UUID, Repository] = {}
        async with self._uow as uow:
            for ref in payload.removed:
                repo = await self._find(uow, ref)
                if repo is not None:
                    found[repo.id] = repo
        return list(found.values())

    # --- confirmation through the code host's API (before the transaction) --------------------------------

    async def _confirm(self, known: list[Repository], payload: WebhookEvent) -> _Facts:
        facts = _Facts()
        match payload:
            case RepositoryChanged(action="deleted" | "transferred") | RepositoriesRemoved():
                for repo in known:
                    facts.tokens[repo.id] = [token for _, token in await self._users_tokens(repo)]
                    if await self._gone(repo, facts.tokens[repo.id], facts):
                        facts.gone.add(repo.id)
            case MemberChanged(action="removed" | "edited"):
                await self._confirm_member(known[0], payload, facts)
            case IssueCommentDelivered(on_pull_request=True, issue_number=int(number)):
                if payload.action in {"created", "edited", "deleted"}:
                    facts.pull_request = await self._unseen_pull_request(known[0], number)
        return facts

    async def _users_tokens(self, repo: Repository) -> list[tuple[UUID, str]]:
        """The GitHub tokens of the users with access to ``repo``, highest permission first."""
        async with self._uow as uow:
            rows = await uow.repositories.list_access(repo.id)
        found: list[tuple[UUID, str]] = []
        for access in sorted(rows, key=lambda a: -a.permission.rank):
            with contextlib.suppress(Refused):
                found.append((access.user_id, await self._tokens.token_for(access.user_id)))
        return found

    async def _gone(self, repo: Repository, tokens: list[str], facts: _Facts) -> bool:
        """Whether the API confirms ``repo`` is no longer there: invisible (404) to a token that could see
        it, or moved to another name, and visible as it was to none."""
        confirmed = False
        for token in tokens:
            try:
                hosted = await self._host.get_repository(token, repo.full_name)
            except NotFound:
                confirmed = True
                continue
            except Refused:
                continue  # a revoked token tells nothing
            same_id = repo.host_id is None or hosted.host_id in {None, repo.host_id}
            if same_id and hosted.full_name.lower() == repo.full_name.lower():
                return False
            if same_id:
                facts.moved_to[repo.id] = hosted.full_name
            confirmed = True
        return confirmed

    async def _confirm_member(self, repo: Repository, payload: MemberChanged, facts: _Facts) -> None:
        if payload.github_user_id is None:
            return
        async with self._uow as uow:
            members = [
                access.user_id
                for access in await uow.repositories.list_access(repo.id)
                if (connection := await uow.github_connections.get(access.user_id)) is not None
                and connection.github_user_id == payload.github_user_id
            ]
        for user_id in members:
            try:
                token = await self._tokens.token_for(user_id)
                hosted = await self._host.get_repository(token, repo.full_name)
            except NotFound:
                facts.members[user_id] = None
                continue
            except Refused:
                # The member's token is revoked: ask the collaborator permission with another user's.
                await self._ask_collaborator(repo, user_id, payload.login, facts)
                continue
            if hosted.host_id in {None, repo.host_id}:
                facts.members[user_id] = hosted.permission
        if any(level is None for level in facts.members.values()):
            facts.tokens[repo.id] = [token for _, token in await self._users_tokens(repo)]

    async def _ask_collaborator(self, repo: Repository, user_id: UUID, login: str, facts: _Facts) -> None:
        if not login:
            return
        for other, token in await self._users_tokens(repo):
            if other == user_id:
                continue
            try:
                facts.members[user_id] = await self._host.collaborator_permission(
                    token, repo.full_name, login
                )
                return
            except (NotFound, Refused):
                continue  # that user cannot see the repository or may not ask: unconfirmed so far

    async def _unseen_pull_request(self, repo: Repository, number: int) -> HostedPullRequest | None:
        async with self._uow as uow:
            if await uow.pull_requests.get_by_number(repo.id, number) is not None:
                return None
        for _, token in await self._users_tokens(repo):
            try:
                return (await self._host.read_pull_request(token, repo.full_name, number)).pull_request
            except (NotFound, Refused):
                continue
        return None

    async def _candidates(self, envelope: WebhookEnvelope) -> tuple[Repository | None, list[str]]:
        secrets: list[str] = []
        repository: Repository | None = None
        ref = envelope.repository
        if ref is not None:
            async with self._uow.read_only() as uow:
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
                created_at=pr.created_at or now,
                updated_at=pr.updated_at or now,
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
            side=comment.side,
            start_line=comment.start_line,
            review_id=comment.review_id,
            deleted=deleted,
            source_updated_at=comment.updated_at,
            created_at=comment.created_at or comment.updated_at or now,
            updated_at=comment.updated_at or now,
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
        facts: _Facts,
        now: datetime,
    ) -> str:
        number, comment = payload.issue_number, payload.comment
        if repo is None or comment is None or number is None:
            return "ignored"
        command = payload.action == "created" and await self._record_command(uow, repo, payload, now)
        if not payload.on_pull_request or payload.action not in {"created", "edited", "deleted"}:
            return "issue_comment command" if command else "ignored"  # a comment on a plain issue
        pull = await uow.pull_requests.get_by_number(repo.id, number)
        if pull is None and facts.pull_request is not None:
            pull = await uow.pull_requests.upsert(
                pull_request_from_host(
                    facts.pull_request,
                    pull_id=self._ids.new_id(),
                    repository_id=repo.id,
                    now=now,
                    by_platform=False,
                )
            )
        if pull is None:
            return "issue_comment: pull request not found on the code host"
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

    async def _repository(
        self,
        uow: UnitOfWork,
        repo: Repository | None,
        payload: RepositoryChanged,
        facts: _Facts,
        forgotten: list[tuple[Repository, RepositoryWebhook]],
        now: datetime,
    ) -> str:
        if repo is None:
            return "ignored"
        if payload.action in {"deleted", "transferred"}:
            if repo.id not in facts.gone:
                return f"repository {payload.action}: not confirmed by the API, ignored"
            await self._disconnect(uow, repo, forgotten)
            return f"repository {payload.action}: disconnected"
        if payload.action == "renamed" and payload.full_name:
            try:
                new_name = validate_full_name(clean_text(payload.full_name, 140) or "")
                await uow.repositories.update(replace(repo, full_name=new_name))
            except (InvalidInput, Conflict):
                return "ignored"
            return "repository renamed"
        if payload.action in {"edited", "privatized", "publicized"}:
            visibility = payload.visibility or repo.visibility
            if payload.action != "edited" and visibility is not Visibility.INTERNAL:
                visibility = Visibility.PRIVATE if payload.action == "privatized" else Visibility.PUBLIC
            default_branch = repo.default_branch
            if payload.default_branch:
                with contextlib.suppress(InvalidInput):
                    default_branch = validate_branch_name(clean_text(payload.default_branch, 255) or "")
            await uow.repositories.update(
                replace(repo, default_branch=default_branch, visibility=visibility, updated_at=now)
            )
            return f"repository {payload.action}"
        return "ignored"

    async def _installation_repositories(
        self,
        uow: UnitOfWork,
        known: list[Repository],
        facts: _Facts,
        forgotten: list[tuple[Repository, RepositoryWebhook]],
    ) -> str:
        removed = 0
        for repo in known:
            if repo.id in facts.gone:
                await self._disconnect(uow, repo, forgotten)
                removed += 1
        return f"installation_repositories removed: {removed} disconnected"

    async def _member(
        self,
        uow: UnitOfWork,
        repo: Repository | None,
        facts: _Facts,
        forgotten: list[tuple[Repository, RepositoryWebhook]],
        now: datetime,
    ) -> str:
        if repo is None or not facts.members:
            return "ignored"
        for user_id, level in facts.members.items():
            access = await uow.repositories.get_access(user_id, repo.id)
            if access is None:
                continue
            if level is None:
                await uow.repositories.delete_access(user_id, repo.id)
            elif level is not access.permission:
                await uow.repositories.save_access(replace(access, permission=level, updated_at=now))
        if not await uow.repositories.list_access(repo.id):
            removed = await uow.repositories.delete_webhook(repo.id)
            if removed is not None:
                forgotten.append((repo, removed))
        return "member access mirrored"

    async def _find(self, uow: UnitOfWork, ref: HostRepositoryRef) -> Repository | None:
        full_name = clean_text(ref.full_name, 140) or ""
        if ref.host_id is None and not full_name:
            return None
        found = await uow.repositories.find(HOST, ref.host_id, full_name)
        if found is not None and None not in (found.host_id, ref.host_id) and found.host_id != ref.host_id:
            return None  # same name, another repository (deleted and re-created, or transferred away)
        return found

    async def _disconnect(
        self, uow: UnitOfWork, repo: Repository, forgotten: list[tuple[Repository, RepositoryWebhook]]
    ) -> None:
        await uow.repositories.delete_all_access(repo.id)
        removed = await uow.repositories.delete_webhook(repo.id)
        if removed is not None:
            forgotten.append((repo, removed))


def _login(login: str | None) -> str | None:
    return clean_text(login, 100)


@dataclass(frozen=True, slots=True)
class PruneGitHubDeliveriesOutput:
    deleted: int


MIN_DELIVERY_RETENTION = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class DeliveryRetention:
    """How long the dedupe row of a GitHub delivery is kept (``GITHUB_DELIVERY_RETENTION_DAYS``)."""

    period: timedelta = timedelta(days=30)


class PruneGitHubDeliveries:
    """Delete the dedupe rows of GitHub deliveries older than the retention period, in batches.

    Rules: the period must exceed the window in which GitHub redelivers (a redelivery of a pruned delivery
    would have its effect again; GitHub lets deliveries of the last 3 days be redelivered), so it is at
    least 7 days (``InvalidInput`` otherwise); each batch is its own short transaction. Run by the worker's
    maintenance and by ``asynccoder prune-github-deliveries``.
    """

    BATCH = 1000

    def __init__(self, uow: UnitOfWork, clock: Clock, retention: DeliveryRetention) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention

    async def __call__(self) -> PruneGitHubDeliveriesOutput:
        if self._retention.period < MIN_DELIVERY_RETENTION:
            raise InvalidInput("The retention period of GitHub deliveries must be at least 7 days.")
        cutoff = self._clock.now() - self._retention.period
        total = 0
        while True:
            async with self._uow as uow:
                deleted = await uow.github_deliveries.delete_received_before(cutoff, limit=self.BATCH)
                await uow.commit()
            total += deleted
            if deleted < self.BATCH:
                return PruneGitHubDeliveriesOutput(total)
