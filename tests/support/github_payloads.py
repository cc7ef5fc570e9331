"""Webhook payloads modelled on GitHub's documented examples, with the null fields real deliveries carry."""

from __future__ import annotations

from typing import Any

REPO_ID = 1296269
FULL_NAME = "octo-org/hello-world"


def user(login: str = "octocat", *, kind: str = "User", id: int = 583231) -> dict[str, Any]:
    return {
        "login": login,
        "id": id,
        "node_id": "MDQ6VXNlcjU4MzIzMQ==",
        "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
        "gravatar_id": "",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": kind,
        "user_view_type": "public",
        "site_admin": False,
    }


BOT = user("dependabot[bot]", kind="Bot", id=49699333)
ORGANIZATION = {
    "login": "octo-org",
    "id": 6811672,
    "node_id": "MDEyOk9yZ2FuaXphdGlvbjY4MTE2NzI=",
    "url": "https://api.github.com/orgs/octo-org",
    "description": None,
}
INSTALLATION = {"id": 2311213, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMjMxMTIxMw=="}


def repository(
    *, id: int = REPO_ID, full_name: str = FULL_NAME, pushed_at: Any = "2026-11-30T11:00:00Z"
) -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {
        "id": id,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": {**user(owner, kind="Organization", id=6811672)},
        "html_url": f"https://github.com/{full_name}",
        "description": None,
        "fork": False,
        "homepage": None,
        "language": None,
        "mirror_url": None,
        "license": None,
        "topics": [],
        "visibility": "private",
        "default_branch": "main",
        "created_at": "2011-01-26T19:01:12Z",
        "updated_at": "2026-11-30T11:00:00Z",
        "pushed_at": pushed_at,
        "archived": False,
        "disabled": False,
        "open_issues_count": 1,
        "custom_properties": {},
    }


def pull_request(
    *,
    number: int = 1347,
    state: str = "open",
    title: str = "Amazing new feature",
    updated_at: str = "2026-11-30T12:00:00Z",
    merged: bool = False,
    head_ref: str = "new-topic",
    head_sha: str = "6dcb09b5b57875f334f61aebed695e2e4193db5e",
    draft: bool = False,
    author: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{FULL_NAME}/pulls/{number}",
        "id": 1,
        "node_id": "MDExOlB1bGxSZXF1ZXN0MQ==",
        "html_url": f"https://github.com/{FULL_NAME}/pull/{number}",
        "number": number,
        "state": state,
        "locked": False,
        "title": title,
        "user": author if author is not None else user(),
        "body": None,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": "2026-11-30T10:00:00Z",
        "updated_at": updated_at,
        "closed_at": updated_at if state == "closed" else None,
        "merged_at": updated_at if merged else None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": f"octo-org:{head_ref}",
            "ref": head_ref,
            "sha": head_sha,
            "user": user("octo-org", kind="Organization"),
            "repo": None,
        },
        "base": {"label": "octo-org:main", "ref": "main", "sha": "9a8b7c6d5e4f", "user": None, "repo": None},
        "author_association": "CONTRIBUTOR",
        "auto_merge": None,
        "draft": draft,
        "merged": merged,
        "mergeable": None,
        "rebaseable": None,
        "mergeable_state": "unknown",
        "merged_by": None,
        "comments": 0,
        "review_comments": 0,
        "commits": 1,
        "additions": 100,
        "deletions": 3,
        "changed_files": 5,
    }


def pull_request_event(action: str = "opened", **pr: Any) -> dict[str, Any]:
    body = pull_request(**pr)
    return {
        "action": action,
        "number": body["number"],
        "pull_request": body,
        "repository": repository(),
        "organization": ORGANIZATION,
        "installation": INSTALLATION,
        "sender": user(),
    }


def review_event(
    action: str = "submitted", *, review_id: int = 80, state: str = "approved", number: int = 1347
) -> dict[str, Any]:
    return {
        "action": action,
        "review": {
            "id": review_id,
            "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=",
            "user": user("hubot", id=2),
            "body": None,
            "commit_id": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "submitted_at": "2026-11-30T12:05:00Z",
            "state": state,
            "html_url": f"https://github.com/{FULL_NAME}/pull/{number}#pullrequestreview-{review_id}",
            "author_association": "MEMBER",
        },
        "pull_request": pull_request(number=number),
        "repository": repository(),
        "sender": user("hubot", id=2),
    }


def review_comment_event(
    action: str = "created",
    *,
    comment_id: int = 2,
    body: str = "Maybe rename this?",
    updated_at: str = "2026-11-30T12:06:00Z",
    side: str = "RIGHT",
    lines: tuple[int | None, int] = (None, 1),
) -> dict[str, Any]:
    """``lines`` is (``start_line``, ``line``) of the comment, on ``side``; as in GitHub's payloads for a
    comment on an outdated diff, they travel as ``original_start_line``/``original_line``, ``line`` null."""
    return {
        "action": action,
        "comment": {
            "url": f"https://api.github.com/repos/{FULL_NAME}/pulls/comments/{comment_id}",
            "pull_request_review_id": 80,
            "id": comment_id,
            "node_id": "MDI0OlB1bGxSZXF1ZXN0UmV2aWV3Q29tbWVudDI=",
            "diff_hunk": "@@ -1,1 +1,1 @@\n-Hello\n+Hello World",
            "path": "README.md",
            "position": 1,
            "original_position": 1,
            "commit_id": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "original_commit_id": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "user": BOT,
            "body": body,
            "created_at": "2026-11-30T12:06:00Z",
            "updated_at": updated_at,
            "in_reply_to_id": None,
            "line": None,
            "original_line": lines[1],
            "side": side,
            "start_line": None,
            "original_start_line": lines[0],
            "start_side": None if lines[0] is None else side,
            "subject_type": "line",
        },
        "pull_request": pull_request(),
        "repository": repository(),
        "sender": BOT,
    }


def issue_comment_event(
    action: str = "created", *, on_pull_request: bool = True, comment_id: int = 444, number: int = 1347
) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "url": f"https://api.github.com/repos/{FULL_NAME}/issues/{number}",
        "id": 444500041,
        "number": number,
        "title": "Amazing new feature",
        "user": user(),
        "labels": [],
        "state": "open",
        "assignee": None,
        "milestone": None,
        "comments": 1,
        "created_at": "2026-11-30T10:00:00Z",
        "updated_at": "2026-11-30T12:10:00Z",
        "closed_at": None,
        "body": None,
        "performed_via_github_app": None,
    }
    if on_pull_request:
        issue["pull_request"] = {
            "url": f"https://api.github.com/repos/{FULL_NAME}/pulls/{number}",
            "html_url": f"https://github.com/{FULL_NAME}/pull/{number}",
            "diff_url": None,
            "patch_url": None,
            "merged_at": None,
        }
    return {
        "action": action,
        "issue": issue,
        "comment": {
            "id": comment_id,
            "node_id": "MDEyOklzc3VlQ29tbWVudDQ0NA==",
            "user": None,  # a deleted account
            "created_at": "2026-11-30T12:10:00Z",
            "updated_at": "2026-11-30T12:10:00Z",
            "author_association": "NONE",
            "body": "You are totally right! I'll get this fixed right away.",
            "performed_via_github_app": None,
        },
        "repository": repository(),
        "sender": user(),
    }


def push_event(
    *,
    ref: str = "refs/heads/main",
    after: str = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    pushed_at: Any = 1764504000,
) -> dict[str, Any]:
    return {
        "ref": ref,
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": after,
        "created": False,
        "deleted": after == "0" * 40,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/{FULL_NAME}/compare/6113728f27ae...0d1a26e67d8f",
        "commits": [],
        "head_commit": None,
        "repository": repository(pushed_at=pushed_at),
        "pusher": {"name": "octocat", "email": None},
        "sender": user(),
    }


def repository_event(action: str = "deleted") -> dict[str, Any]:
    return {"action": action, "repository": repository(), "sender": user(), "installation": INSTALLATION}


def member_event(
    action: str = "removed", login: str = "octocat", *, id: int = 583231, old_permission: str = "write"
) -> dict[str, Any]:
    """GitHub's ``member`` payload: ``edited`` carries only ``changes.old_permission`` (the new level is
    not in it)."""
    return {
        "action": action,
        "member": user(login, id=id),
        "changes": {"old_permission": {"from": old_permission}} if action == "edited" else {},
        "repository": repository(),
        "sender": user("admin"),
    }


def installation_repositories_event(action: str = "removed") -> dict[str, Any]:
    return {
        "action": action,
        "installation": {**INSTALLATION, "account": user("octo-org", kind="Organization")},
        "repository_selection": "selected",
        "repositories_added": [],
        "repositories_removed": [
            {
                "id": REPO_ID,
                "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
                "name": "hello-world",
                "full_name": FULL_NAME,
                "private": True,
            }
        ],
        "requester": None,
        "sender": user(),
    }


def ping_event() -> dict[str, Any]:
    return {
        "zen": "Keep it logically awesome.",
        "hook_id": 109948940,
        "hook": {
            "type": "Repository",
            "id": 109948940,
            "name": "web",
            "active": True,
            "events": ["*"],
            "config": {"content_type": "json", "insecure_ssl": "0", "url": "https://smee.io/****"},
        },
        "repository": repository(),
        "sender": user(),
    }
