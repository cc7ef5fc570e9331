"""GitHub webhook deliveries: the ``X-Hub-Signature-256`` check, and the payloads as the port's typed
events."""

from __future__ import annotations

import hashlib
import hmac
from typing import TypeVar

import msgspec

from asynccoder.adapters.github.webhook_payloads import (
    Account,
    CommentPayload,
    Envelope,
    IssueCommentEvent,
    MemberEvent,
    PullRequestEvent,
    PullRequestPayload,
    PullRequestReviewCommentEvent,
    PullRequestReviewEvent,
    PushEvent,
    RepositoryEventPayload,
    RepositoryRef,
    ReviewPayload,
    parse_timestamp,
)
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
    ReviewSnapshot,
    WebhookDelivery,
    WebhookEnvelope,
    WebhookEvent,
)
from asynccoder.domain.code_hosting import Permission, PullRequestState, Visibility
from asynccoder.domain.errors import InvalidInput

T = TypeVar("T")

# GitHub's collaborator roles -> the platform's three levels.
_GITHUB_PERMISSIONS = {
    "admin": Permission.ADMIN,
    "maintain": Permission.WRITE,
    "write": Permission.WRITE,
    "push": Permission.WRITE,
    "triage": Permission.READ,
    "read": Permission.READ,
    "pull": Permission.READ,
}


# The top-level keys that name what each handled event is about (GitHub's documented payloads). The
# signature covers the body but not ``X-GitHub-Event``, so a body must carry its event's keys and none of
# the keys that name another event's subject (a signed ``label deleted`` re-sent as ``repository`` is
# refused).
_REQUIRED_KEYS: dict[str, frozenset[str]] = {
    "ping": frozenset({"zen"}),
    "pull_request": frozenset({"action", "number", "pull_request"}),
    "pull_request_review": frozenset({"action", "review", "pull_request"}),
    "pull_request_review_comment": frozenset({"action", "comment", "pull_request"}),
    "issue_comment": frozenset({"action", "issue", "comment"}),
    "push": frozenset({"ref", "before", "after"}),
    "repository": frozenset({"action", "repository"}),
    "installation_repositories": frozenset({"action", "installation", "repositories_removed"}),
    "member": frozenset({"action", "member", "repository"}),
}
_SUBJECT_KEYS = frozenset(
    {
        "alert", "answer", "branch_protection_rule", "check_run", "check_suite", "comment", "commits",
        "deployment", "deployment_status", "discussion", "forkee", "head_commit", "hook", "hook_id", "issue",
        "label", "marketplace_purchase", "member", "membership", "merge_group", "milestone", "package",
        "pages", "project", "project_card", "project_column", "pull_request", "pusher", "ref", "ref_type",
        "registry_package", "release", "repositories_added", "repositories_removed", "review", "rule",
        "security_advisory", "sponsorship", "starred_at", "status", "team", "thread", "workflow_job",
        "workflow_run", "zen",
    }
)  # fmt: skip
_OWN_KEYS: dict[str, frozenset[str]] = {
    "ping": frozenset({"zen", "hook", "hook_id"}),
    "pull_request": frozenset({"label", "milestone"}),  # labeled/milestoned actions (acknowledged, ignored)
    "push": frozenset({"ref", "commits", "head_commit", "pusher"}),
    "installation_repositories": frozenset({"repositories_added", "repositories_removed"}),
}
_VISIBILITIES = {v.value: v for v in Visibility}


def check_shape(event: str, body: bytes) -> None:
    """Raise ``webhook_payload_invalid`` unless ``body`` has the shape of a handled ``event``."""
    required = _REQUIRED_KEYS.get(event)
    if required is None:
        return
    keys = _decode(body, dict[str, msgspec.Raw]).keys()
    own = required | _OWN_KEYS.get(event, frozenset())
    if not required <= keys or (keys & _SUBJECT_KEYS) - own:
        raise InvalidInput(
            "The payload is not a GitHub event of the announced type.", code="webhook_payload_invalid"
        )


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _decode(body: bytes, shape: type[T]) -> T:
    try:
        return msgspec.json.decode(body, type=shape)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        raise InvalidInput(
            "The payload is not a GitHub event of the announced type.", code="webhook_payload_invalid"
        ) from None


def _login(account: Account | None) -> str | None:
    return account.login if account is not None else None


def _ref(ref: RepositoryRef) -> HostRepositoryRef:
    return HostRepositoryRef(host_id=ref.id, full_name=ref.full_name or "")


def _pull_request(pr: PullRequestPayload | None) -> PullRequestSnapshot | None:
    if pr is None or pr.number is None:
        return None
    merged_at = parse_timestamp(pr.merged_at)
    if pr.state == "open":
        state = PullRequestState.OPEN
    elif pr.merged or merged_at is not None:
        state = PullRequestState.MERGED
    else:
        state = PullRequestState.CLOSED
    return PullRequestSnapshot(
        number=pr.number,
        title=pr.title,
        body=pr.body,
        state=state,
        draft=bool(pr.draft),
        author_login=_login(pr.user),
        head_ref=pr.head.ref if pr.head else None,
        head_sha=pr.head.sha if pr.head else None,
        base_ref=pr.base.ref if pr.base else None,
        html_url=pr.html_url,
        merged_at=merged_at,
        closed_at=parse_timestamp(pr.closed_at),
        updated_at=parse_timestamp(pr.updated_at),
        created_at=parse_timestamp(pr.created_at),
    )


def _review(review: ReviewPayload | None) -> ReviewSnapshot | None:
    if review is None:
        return None
    return ReviewSnapshot(
        host_review_id=review.id,
        author_login=_login(review.user),
        state=review.state,
        body=review.body,
        commit_sha=review.commit_id,
        submitted_at=parse_timestamp(review.submitted_at),
    )


def _comment(comment: CommentPayload | None) -> CommentSnapshot | None:
    if comment is None or comment.id is None:
        return None
    return CommentSnapshot(
        host_comment_id=comment.id,
        author_login=_login(comment.user),
        body=comment.body,
        path=comment.path,
        line=comment.line if comment.line is not None else comment.original_line,
        side=comment.side if comment.side in {"RIGHT", "LEFT"} else None,
        start_line=comment.start_line if comment.line is not None else comment.original_start_line,
        review_id=comment.pull_request_review_id,
        updated_at=parse_timestamp(comment.updated_at) or parse_timestamp(comment.created_at),
        author_is_bot=comment.user is not None and (comment.user.type or "").lower() == "bot",
        created_at=parse_timestamp(comment.created_at),
    )


class GitHubWebhooks:
    """GitHub's delivery format, read with msgspec into the tolerant shapes of ``webhook_payloads``."""

    def read_envelope(self, delivery: WebhookDelivery) -> WebhookEnvelope:
        if not delivery.signature or not delivery.signature.startswith("sha256="):
            raise InvalidInput("X-Hub-Signature-256 is required.", code="webhook_signature_missing")
        ref = _decode(delivery.body, Envelope).repository
        if ref is None or (ref.id is None and not ref.full_name):
            return WebhookEnvelope(repository=None)
        return WebhookEnvelope(repository=_ref(ref))

    def verifies(self, delivery: WebhookDelivery, secrets: list[str]) -> bool:
        # Bytes, not str: compare_digest refuses non-ASCII str, and a header may carry anything.
        presented = (delivery.signature or "").encode("utf-8", "replace")
        return any(hmac.compare_digest(sign(secret, delivery.body).encode(), presented) for secret in secrets)

    def decode(self, delivery: WebhookDelivery) -> WebhookEvent | None:
        body = delivery.body
        event = (delivery.event or "").strip()
        check_shape(event, body)
        match event:
            case "ping":
                return PingDelivered()
            case "pull_request":
                pr = _decode(body, PullRequestEvent)
                return PullRequestDelivered(pr.action, _pull_request(pr.pull_request))
            case "pull_request_review":
                review = _decode(body, PullRequestReviewEvent)
                return ReviewDelivered(
                    review.action, _review(review.review), _pull_request(review.pull_request)
                )
            case "pull_request_review_comment":
                rc = _decode(body, PullRequestReviewCommentEvent)
                return ReviewCommentDelivered(rc.action, _comment(rc.comment), _pull_request(rc.pull_request))
            case "issue_comment":
                ic = _decode(body, IssueCommentEvent)
                issue = ic.issue
                return IssueCommentDelivered(
                    action=ic.action,
                    issue_number=issue.number if issue else None,
                    issue_title=issue.title if issue else None,
                    on_pull_request=issue is not None and issue.pull_request is not None,
                    comment=_comment(ic.comment),
                )
            case "push":
                push = _decode(body, PushEvent)
                return PushDelivered(
                    ref=push.ref or "",
                    after=push.after,
                    deleted=bool(push.deleted),
                    pushed_at=(parse_timestamp(push.repository.pushed_at) if push.repository else None)
                    or (parse_timestamp(push.head_commit.timestamp) if push.head_commit else None),
                )
            case "repository":
                changed = _decode(body, RepositoryEventPayload)
                ref = changed.repository
                if ref is None:
                    return RepositoryChanged(changed.action, None)
                visibility = _VISIBILITIES.get(ref.visibility or "")
                if visibility is None and ref.private is not None:
                    visibility = Visibility.PRIVATE if ref.private else Visibility.PUBLIC
                return RepositoryChanged(changed.action, ref.full_name, ref.default_branch, visibility)
            case "installation_repositories":
                env = _decode(body, Envelope)
                return RepositoriesRemoved(env.action, tuple(_ref(r) for r in env.repositories_removed or ()))
            case "member":
                member = _decode(body, MemberEvent)
                change = member.changes.permission if member.changes else None
                return MemberChanged(
                    action=member.action,
                    login=(member.member.login if member.member else None) or "",
                    permission=_GITHUB_PERMISSIONS.get((change.to if change else None) or ""),
                    github_user_id=member.member.id if member.member else None,
                )
        return None
