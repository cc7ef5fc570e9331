"""A local HTTP server that speaks the parts of GitHub's REST API the platform uses.

It answers like GitHub Enterprise (``/api/v3`` prefix): realistic JSON, ``Link`` pagination,
``x-ratelimit-*`` headers, the diff media type, 401 "Bad credentials", 404 "Not Found", rate-limit 403/429.
It checks what it receives: the ``Authorization`` header must carry a known token, webhook configs must be
JSON with a secret, review comments must name a path and a line. Every request it got is in ``requests``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/api/v3"
T = "2026-11-30T12:00:00Z"


@dataclass
class FakeRepo:
    id: int
    full_name: str
    default_branch: str = "main"
    private: bool = True
    visibility: str = "private"
    # token -> permissions; a token not listed cannot see the repository (404)
    access: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeGitHub:
    base: str = ""
    tokens: dict[str, str] = field(default_factory=dict)  # token -> login
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    hooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    rate_limited: str | None = None  # "403" or "429"
    race_open_pull: dict[str, Any] | None = None  # a pull request "opened concurrently" on the next create
    fail_hooks: bool = False
    fail_hook_deletes: bool = False  # DELETE of a hook answers 502, as GitHub does when it has an outage
    next_id: int = 1000

    def add_hook(self, full_name: str, url: str, *, secret: str = "lost-secret", active: bool = True) -> int:
        """A hook already on the repository (e.g. one the platform forgot)."""
        hook_id = self.new_id()
        self.hooks[hook_id] = {
            "type": "Repository",
            "id": hook_id,
            "name": "web",
            "active": active,
            "events": ["push"],
            "config": {"content_type": "json", "insecure_ssl": "0", "url": url, "secret": "********"},
            "updated_at": T,
            "created_at": T,
            "url": f"{self.base}/repos/{full_name}/hooks/{hook_id}",
            "test_url": f"{self.base}/repos/{full_name}/hooks/{hook_id}/test",
            "ping_url": f"{self.base}/repos/{full_name}/hooks/{hook_id}/pings",
            "deliveries_url": f"{self.base}/repos/{full_name}/hooks/{hook_id}/deliveries",
            "last_response": {"code": 200, "status": "active", "message": "OK"},
            "repo": full_name,
            "secret": secret,
        }
        return hook_id

    def add_repo(self, full_name: str, *, id: int, access: dict[str, str], **kw: Any) -> FakeRepo:
        repo = FakeRepo(id=id, full_name=full_name, access=access, **kw)
        self.repos[full_name.lower()] = repo
        return repo

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def user_json(self, login: str) -> dict[str, Any]:
        return {
            "login": login,
            "id": abs(hash(login)) % 10_000_000,
            "node_id": "MDQ6VXNlcjE=",
            "avatar_url": f"https://avatars.githubusercontent.com/u/1?v=4&l={login}",
            "url": f"{self.base}/users/{login}",
            "html_url": f"https://github.com/{login}",
            "type": "User",
            "site_admin": False,
        }

    def repo_json(self, repo: FakeRepo, token: str) -> dict[str, Any]:
        owner, name = repo.full_name.split("/")
        level = repo.access.get(token, "pull")
        return {
            "id": repo.id,
            "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
            "name": name,
            "full_name": repo.full_name,
            "owner": {**self.user_json(owner), "type": "Organization"},
            "private": repo.private,
            "visibility": repo.visibility,
            "html_url": f"https://github.com/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": f"{self.base}/repos/{repo.full_name}",
            "clone_url": f"https://github.com/{repo.full_name}.git",
            "git_url": f"git://github.com/{repo.full_name}.git",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "default_branch": repo.default_branch,
            "archived": False,
            "disabled": False,
            "pushed_at": T,
            "created_at": T,
            "updated_at": T,
            "permissions": {
                "admin": level == "admin",
                "maintain": level == "admin",
                "push": level in {"admin", "push"},
                "triage": True,
                "pull": True,
            },
        }

    def pull_json(self, full_name: str, pr: dict[str, Any]) -> dict[str, Any]:
        number = pr["number"]
        return {
            "url": f"{self.base}/repos/{full_name}/pulls/{number}",
            "id": pr["id"],
            "node_id": "MDExOlB1bGxSZXF1ZXN0MQ==",
            "html_url": f"https://github.com/{full_name}/pull/{number}",
            "diff_url": f"https://github.com/{full_name}/pull/{number}.diff",
            "number": number,
            "state": pr["state"],
            "locked": False,
            "title": pr["title"],
            "user": self.user_json(pr["user"]),
            "body": pr["body"],
            "labels": [],
            "milestone": None,
            "created_at": T,
            "updated_at": pr.get("updated_at", T),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "draft": pr["draft"],
            "head": {
                "label": f"x:{pr['head']}",
                "ref": pr["head"],
                "sha": pr.get("head_sha", "6dcb09b5b57875f334f61aebed695e2e4193db5e"),
            },
            "base": {
                "label": f"x:{pr['base']}",
                "ref": pr["base"],
                "sha": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
            },
            "merged": False,
            "mergeable": None,
            "comments": 0,
            "review_comments": 0,
            "commits": 1,
            "additions": 3,
            "deletions": 1,
            "changed_files": 1,
        }


DIFF = (
    "diff --git a/src/app.py b/src/app.py\n"
    "index 83db48f..bf269f4 100644\n"
    "--- a/src/app.py\n"
    "+++ b/src/app.py\n"
    "@@ -1,3 +1,5 @@\n"
    " import os\n"
    "-print('hi')\n"
    "+def main() -> None:\n"
    "+    print('hello')\n"
    "+\n"
)


PATH_INVALID = (
    "Pull request review thread path is invalid and Pull request review thread diff hunk can't be blank"
)
LINE_OUTSIDE_DIFF = (
    "Pull request review thread line must be part of the diff and "
    "Pull request review thread diff hunk can't be blank"
)
REVIEW_DOCS = "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request"
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _diff_hunks(diff: str) -> dict[str, list[tuple[set[int], set[int]]]]:
    """Per file (new path), each hunk's (LEFT, RIGHT) line numbers, as GitHub computes commentable lines."""
    files: dict[str, list[tuple[set[int], set[int]]]] = {}
    path = ""
    old = new = 0
    for line in diff.split("\n"):
        if line.startswith("+++ "):
            path = line[4:].removeprefix("b/")
            files.setdefault(path, [])
        elif line.startswith("--- "):
            continue
        elif match := _HUNK.match(line):
            old, new = int(match.group(1)), int(match.group(3))
            files.setdefault(path, []).append((set(), set()))
        elif files.get(path) and line[:1] in {" ", "+", "-"}:
            left, right = files[path][-1]
            if line[:1] in {" ", "-"}:
                left.add(old)
                old += 1
            if line[:1] in {" ", "+"}:
                right.add(new)
                new += 1
    return files


def thread_refusal(diff: str, comment: dict[str, Any]) -> str | None:
    """GitHub's 422 error text for an inline review comment the pull request's diff cannot carry."""
    hunks = _diff_hunks(diff).get(comment["path"])
    if not hunks:
        return PATH_INVALID
    side = comment.get("side", "RIGHT")
    index = 0 if side == "LEFT" else 1
    hunk = next((h for h in hunks if comment["line"] in h[index]), None)
    if hunk is None:
        return LINE_OUTSIDE_DIFF
    start = comment.get("start_line")
    if start is not None:
        start_index = 0 if comment.get("start_side", side) == "LEFT" else 1
        if start not in hunk[start_index] or start > comment["line"]:
            return "Pull request review thread start line must be part of the same hunk as the line."
    return None


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(
            self, status: int, body: Any, headers: dict[str, str] | None = None, raw: str | None = None
        ) -> None:
            payload = (
                (raw if raw is not None else json.dumps(body)).encode() if (body is not None or raw) else b""
            )
            self.send_response(status)
            self.send_header(
                "Content-Type",
                "text/plain; charset=utf-8" if raw is not None else "application/json; charset=utf-8",
            )
            self.send_header("Content-Length", str(len(payload)))
            merged = {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "4999",
                "x-ratelimit-reset": str(int(time.time()) + 3600),
                "x-github-api-version-selected": "2022-11-28",
                **(headers or {}),
            }
            for k, v in merged.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def _error(self, status: int, message: str) -> None:
            self._send(
                status,
                {
                    "message": message,
                    "documentation_url": "https://docs.github.com/rest",
                    "status": str(status),
                },
            )

        def _token(self) -> str | None:
            header = self.headers.get("Authorization", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() not in {"token", "bearer"} or value not in state.tokens:
                return None
            return value

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}") if length else {}

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            path = url.path
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            state.requests.append((method, path, dict(self.headers)))
            if not path.startswith(PREFIX):
                return self._error(404, "Not Found")
            path = path[len(PREFIX) :]
            body = self._body() if method in {"POST", "PATCH", "PUT"} else {}
            token = self._token()
            if token is None:
                return self._error(401, "Bad credentials")
            if state.rate_limited == "403":
                reset = str(int(time.time()) + 120)
                return self._send(
                    403,
                    {
                        "message": "API rate limit exceeded for user ID 1.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    },
                    {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
                )
            if state.rate_limited == "429":
                return self._send(
                    429,
                    {
                        "message": "You have exceeded a secondary rate limit.",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                    {"retry-after": "42"},
                )
            if method == "GET" and path == "/user/repos":
                visible = [r for r in state.repos.values() if token in r.access]
                per_page = int(query.get("per_page", 30))
                page = int(query.get("page", 1))
                chunk = visible[(page - 1) * per_page : page * per_page]
                headers = {}
                if page * per_page < len(visible):
                    headers["Link"] = (
                        f'<{state.base}/user/repos?per_page={per_page}&page={page + 1}>; rel="next"'
                    )
                return self._send(200, [state.repo_json(r, token) for r in chunk], headers)
            m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
            if not m:
                return self._error(404, "Not Found")
            full_name = f"{m.group(1)}/{m.group(2)}"
            rest = m.group(3) or ""
            repo = state.repos.get(full_name.lower())
            if repo is None or token not in repo.access:
                return self._error(404, "Not Found")
            level = repo.access[token]
            full_name = repo.full_name
            if method == "GET" and rest == "":
                return self._send(200, state.repo_json(repo, token))
            if rest == "/hooks" and method == "POST":
                if level != "admin":
                    return self._error(404, "Not Found")
                if state.fail_hooks:
                    return self._error(422, "Validation Failed")
                config = body.get("config", {})
                if config.get("content_type") != "json" or not config.get("secret") or not config.get("url"):
                    return self._error(422, "Validation Failed")
                if any(
                    h["repo"] == full_name and h["config"]["url"] == config["url"]
                    for h in state.hooks.values()
                ):
                    # GitHub's answer to a second hook with the same URL on one repository.
                    return self._send(
                        422,
                        {
                            "message": "Validation Failed",
                            "errors": [
                                {
                                    "resource": "Hook",
                                    "code": "custom",
                                    "message": "Hook already exists on this repository",
                                }
                            ],
                            "documentation_url": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook",
                            "status": "422",
                        },
                    )
                hook_id = state.new_id()
                hook = {
                    "type": "Repository",
                    "id": hook_id,
                    "name": "web",
                    "active": True,
                    "events": body.get("events", ["push"]),
                    "config": {
                        "content_type": "json",
                        "insecure_ssl": "0",
                        "url": config["url"],
                        "secret": "********",
                    },
                    "updated_at": T,
                    "created_at": T,
                    "url": f"{state.base}/repos/{full_name}/hooks/{hook_id}",
                    "test_url": f"{state.base}/repos/{full_name}/hooks/{hook_id}/test",
                    "ping_url": f"{state.base}/repos/{full_name}/hooks/{hook_id}/pings",
                    "deliveries_url": f"{state.base}/repos/{full_name}/hooks/{hook_id}/deliveries",
                    "last_response": {"code": None, "status": "unused", "message": None},
                }
                state.hooks[hook_id] = {**hook, "repo": full_name, "secret": config["secret"]}
                return self._send(201, hook)
            cm = re.fullmatch(r"/collaborators/([^/]+)/permission", rest)
            if cm and method == "GET":
                if level not in {"admin", "push"}:
                    return self._error(403, "Must have push access to view collaborator permission.")
                login = cm.group(1)
                member = next((t for t, name in state.tokens.items() if name.lower() == login.lower()), None)
                if member is None:
                    return self._error(404, "Not Found")  # no such user
                granted = repo.access.get(member)
                permission = {"admin": "admin", "push": "write", "pull": "read"}.get(granted or "", "none")
                return self._send(
                    200,
                    {
                        "permission": permission,
                        "role_name": {"write": "write", "read": "read", "admin": "admin"}.get(permission, ""),
                        "user": {**state.user_json(state.tokens[member]), "permissions": {}},
                    },
                )
            if rest == "/hooks" and method == "GET":
                if level != "admin":
                    return self._error(404, "Not Found")
                mine = [h for _, h in sorted(state.hooks.items()) if h["repo"] == full_name]
                per_page = min(int(query.get("per_page", 30)), 100)
                page = int(query.get("page", 1))
                last = max(1, -(-len(mine) // per_page))
                links = []
                if page < last:
                    hooks_url = f"{state.base}/repos/{full_name}/hooks?per_page={per_page}"
                    links.append(f'<{hooks_url}&page={page + 1}>; rel="next"')
                    links.append(f'<{hooks_url}&page={last}>; rel="last"')
                chunk = mine[(page - 1) * per_page : page * per_page]
                return self._send(
                    200,
                    [{k: v for k, v in h.items() if k not in {"repo", "secret"}} for h in chunk],
                    {"Link": ", ".join(links)} if links else None,
                )
            hm = re.fullmatch(r"/hooks/(\d+)", rest)
            if hm:
                hook = state.hooks.get(int(hm.group(1)))
                if hook is None or hook["repo"] != full_name or level != "admin":
                    return self._error(404, "Not Found")
                if method == "DELETE":
                    if state.fail_hook_deletes:
                        return self._error(502, "Server Error")
                    del state.hooks[int(hm.group(1))]
                    return self._send(204, None)
                if method == "PATCH":
                    config = body.get("config") or {}
                    if config and (config.get("content_type") != "json" or not config.get("url")):
                        return self._error(422, "Validation Failed")
                    if config:
                        hook["config"] = {**hook["config"], "url": config["url"]}
                        if config.get("secret"):
                            hook["secret"] = config["secret"]
                    if "events" in body:
                        hook["events"] = body["events"]
                    if "active" in body:
                        hook["active"] = bool(body["active"])
                    hook["updated_at"] = "2026-11-30T12:30:00Z"
                return self._send(200, {k: v for k, v in hook.items() if k not in {"repo", "secret"}})
            if rest == "/pulls" and method == "GET":
                items = [
                    state.pull_json(full_name, pr)
                    for (name, _), pr in sorted(state.pulls.items(), reverse=True)
                    if name == full_name
                    and (query.get("state", "open") in {"all", pr["state"]})
                    and ("head" not in query or query["head"].split(":", 1)[-1] == pr["head"])
                ]
                return self._send(200, items)
            if rest == "/pulls" and method == "POST":
                if level not in {"admin", "push"}:
                    return self._error(403, "Resource not accessible by integration")
                for field_name in ("head", "base", "title"):
                    if not body.get(field_name):
                        return self._error(422, "Validation Failed")
                if any(
                    name == full_name and p["head"] == body["head"] and p["state"] == "open"
                    for (name, _), p in state.pulls.items()
                ):
                    # What GitHub answers for a second pull request from the same head branch.
                    return self._error(422, f"A pull request already exists for x:{body['head']}.")
                if state.race_open_pull is not None:
                    # Another attempt opened the pull request between our lookup and our create.
                    state.pulls[(full_name, 1 + len(state.pulls))] = {
                        **state.race_open_pull,
                        "head": body["head"],
                    }
                    state.race_open_pull = None
                    return self._error(422, f"A pull request already exists for x:{body['head']}.")
                number = 1 + max((n for (name, n) in state.pulls if name == full_name), default=0)
                pr = {
                    "id": state.new_id(),
                    "number": number,
                    "state": "open",
                    "title": body["title"],
                    "body": body.get("body"),
                    "head": body["head"],
                    "base": body["base"],
                    "draft": bool(body.get("draft")),
                    "user": state.tokens[token],
                }
                state.pulls[(full_name, number)] = pr
                return self._send(201, state.pull_json(full_name, pr))
            pm = re.fullmatch(r"/pulls/(\d+)(/files|/reviews)?", rest)
            if pm:
                pr = state.pulls.get((full_name, int(pm.group(1))))
                if pr is None:
                    return self._error(404, "Not Found")
                if pm.group(2) is None and method == "GET":
                    if self.headers.get("Accept") == "application/vnd.github.diff":
                        return self._send(200, None, raw=pr.get("diff", DIFF))
                    return self._send(200, state.pull_json(full_name, pr))
                if pm.group(2) == "/files":
                    return self._send(
                        200,
                        [
                            {
                                "sha": "bbcd538c8e72b8c175046e27cc8f907076331401",
                                "filename": "src/app.py",
                                "status": "modified",
                                "additions": 3,
                                "deletions": 1,
                                "changes": 4,
                                "blob_url": f"https://github.com/{full_name}/blob/x/src/app.py",
                                "raw_url": f"https://github.com/{full_name}/raw/x/src/app.py",
                                "contents_url": f"{state.base}/repos/{full_name}/contents/src/app.py",
                                "patch": DIFF.split("\n", 4)[4],
                            }
                        ],
                    )
                if pm.group(2) == "/reviews" and method == "POST":
                    if body.get("event") not in {"COMMENT", "APPROVE", "REQUEST_CHANGES"}:
                        return self._error(422, "Validation Failed")
                    for c in body.get("comments", []):
                        if not c.get("path") or not isinstance(c.get("line"), int) or not c.get("body"):
                            return self._error(422, "Validation Failed")
                    # Pull requests seeded with their real diff check each comment against it.
                    refusals = [
                        r
                        for c in body.get("comments", [])
                        if "diff" in pr and (r := thread_refusal(pr["diff"], c))
                    ]
                    if refusals:
                        # GitHub's answer names the failing rule, never which comment broke it.
                        return self._send(
                            422,
                            {
                                "message": "Unprocessable Entity",
                                "errors": [refusals[0]],
                                "documentation_url": REVIEW_DOCS,
                                "status": "422",
                            },
                        )
                    review = {
                        "id": state.new_id(),
                        "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=",
                        "user": state.user_json(state.tokens[token]),
                        "body": body.get("body", ""),
                        "state": {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}.get(
                            body["event"], "COMMENTED"
                        ),
                        "html_url": f"https://github.com/{full_name}/pull/{pr['number']}#pullrequestreview-80",
                        "pull_request_url": f"{state.base}/repos/{full_name}/pulls/{pr['number']}",
                        "submitted_at": T,
                        "commit_id": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                        "author_association": "COLLABORATOR",
                    }
                    state.reviews.append({**review, "comments": body.get("comments", [])})
                    return self._send(200, review)
            im = re.fullmatch(r"/issues/(\d+)(/comments)?", rest)
            if im:
                pr = state.pulls.get((full_name, int(im.group(1))))
                if pr is None:
                    return self._error(404, "Not Found")
                if im.group(2) is None and method == "GET":
                    return self._send(
                        200,
                        {
                            "id": pr["id"],
                            "number": pr["number"],
                            "title": pr["title"],
                            "state": pr["state"],
                            "user": state.user_json(pr["user"]),
                            "url": f"{state.base}/repos/{full_name}/issues/{pr['number']}",
                            "html_url": f"https://github.com/{full_name}/pull/{pr['number']}",
                            "pull_request": {"url": f"{state.base}/repos/{full_name}/pulls/{pr['number']}"},
                            "created_at": T,
                            "updated_at": T,
                        },
                    )
                if im.group(2) and method == "POST":
                    if not body.get("body"):
                        return self._error(422, "Validation Failed")
                    comment = {
                        "id": state.new_id(),
                        "node_id": "MDEyOklzc3VlQ29tbWVudDE=",
                        "body": body["body"],
                        "user": state.user_json(state.tokens[token]),
                        "created_at": T,
                        "updated_at": T,
                        "html_url": f"https://github.com/{full_name}/pull/{pr['number']}#issuecomment-1",
                        "issue_url": f"{state.base}/repos/{full_name}/issues/{pr['number']}",
                        "author_association": "COLLABORATOR",
                    }
                    state.comments.append(comment)
                    return self._send(201, comment)
            return self._error(404, "Not Found")

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

    return Handler


@contextmanager
def github_api_server() -> Iterator[FakeGitHub]:
    """Start the fake GitHub on an ephemeral loopback port; ``state.base`` is its Enterprise API base URL."""
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
