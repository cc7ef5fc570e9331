"""``CodingAgent``: the ``TaskRunner`` that does a task's work in one of the five modes."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

from asynccoder.application.agent.loop import AgentLoop, LoopEnd, LoopLimits, LoopResult, normalise_path
from asynccoder.application.agent.modes import (
    FINDING_MARKER,
    READ_ONLY_MODES,
    REVIEW_MARKER,
    RUN_TESTS_FIRST,
    SYSTEM_PROMPTS,
    DocsOnlyEdits,
    Finding,
    FindingsTool,
    RecordedTestRuns,
    SubmitTool,
    is_doc_path,
)
from asynccoder.application.code_hosting.pull_requests import pull_request_from_host, record_posted_review_in
from asynccoder.application.outbound_webhooks.outbox import publish_pull_request_opened
from asynccoder.application.ports.agent import (
    RUN_TESTS,
    AgentTool,
    AgentToolbox,
    SandboxUnavailable,
    UserSecrets,
    Workspace,
    WorkspaceFactory,
)
from asynccoder.application.ports.code_hosting import CodeHost, HostedPullRequest, InlineComment
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.application.ports.task_execution import (
    LogLevel,
    TaskCancelled,
    TaskExecution,
    TaskOutcome,
    TaskRunner,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.agent.diffs import (
    FileDiff,
    estimate_tokens,
    pack_files,
    parse_unified_diff,
    validate_finding,
)
from asynccoder.domain.ai import ProviderError
from asynccoder.domain.errors import NotFound, Refused, Unavailable
from asynccoder.domain.tasks import DiffStats, FailureReason, TaskMode, TaskResult

# Returns redacted excerpts of whatever looks like a secret in ``text`` (common secret shapes, the platform's
# secrets, and exact matches of the given known secrets, e.g. the user's own keys); empty when clean.
SecretScan = Callable[[str, Sequence[str]], Sequence[str]]

SELF_REVIEW = (
    "Before this is committed, review your own change as a strict reviewer would. Here is `git diff` of "
    "the workspace against the base:\n\n```diff\n{diff}\n```\n\nIf the change is complete, correct and "
    "focused, call `submit` again (you may refine the title and summary). If not, fix it first, then submit."
)
MAX_REVIEW_DIFF_CHARS = 20_000
MAX_TEST_OUTPUT_CHARS = 3_000
REVIEW_DIFF_SHARE = 0.5  # of the model's context window (in estimated tokens) for the review's diff
_REVIEW_MARKER_RE = re.compile(r"<!-- asynccoder:review head=([0-9a-f]{7,64}) -->")
_FINDING_MARKER_RE = re.compile(r"<!-- asynccoder:finding ([0-9a-f]{16}) -->")


class _Stop(Exception):
    """Ends the run early with ``outcome`` (e.g. a blocked publish)."""

    def __init__(self, outcome: TaskOutcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class CodingAgent(TaskRunner):
    """Runs one task attempt in its mode.

    Rules:
    - Ask and Architect are read-only and return markdown naming the files read (Ask cites only files it
      opened; Architect's affected files must exist in the repository).
    - Debug and Documentation edit on the task branch; on ``submit`` the model reviews its own diff once and
      may continue; Documentation may change documentation files only. The diff, commit message and pull
      request text are secret-scanned before anything is pushed; then the work is committed and pushed, and
      the branch's open pull request is reused or one is opened (a 422 "already exists" race is resolved by
      reading it back) and recorded in ``pull_requests``.
    - PR Review reads the diff as numbered hunks (only the commits after the platform's last review when
      there is one), takes findings through ``report_finding`` validated against the commentable lines, and
      posts one review: inline comments on diff lines, the rest in the summary, never repeating a finding
      already posted; hidden markers carry the reviewed head and each finding's fingerprint.
    - Limits: steps, consecutive malformed replies, stuck detection, the wall clock, the budget (wrap-up
      notice at the budget's signal, then a partial result with hand-off notes), cancellation (raises
      ``TaskCancelled``).
    """

    def __init__(
        self,
        *,
        workspaces: WorkspaceFactory,
        toolbox: AgentToolbox,
        code_host: CodeHost,
        uow: UnitOfWork,
        clock: Clock,
        ids: IdGenerator,
        scan_secrets: SecretScan,
        limits: LoopLimits | None = None,
        known_secrets: Sequence[str] = (),
        user_secrets: UserSecrets | None = None,
    ) -> None:
        self._known_secrets = tuple(known_secrets)
        self._user_secrets = user_secrets
        self._run_secrets: tuple[str, ...] = ()
        self._workspaces = workspaces
        self._toolbox = toolbox
        self._host = code_host
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._scan = scan_secrets
        self._limits = limits or LoopLimits()

    def _open(
        self, execution: TaskExecution, *, writable: bool, ref: str | None = None
    ) -> AbstractAsyncContextManager[Workspace]:
        return self._workspaces.open(
            task_id=execution.task_id,
            repository=execution.repository,
            credentials=execution.git_credentials,
            writable=writable,
            ref=ref,
            known_secrets=(*self._known_secrets, *self._run_secrets),
        )

    async def run(self, execution: TaskExecution) -> TaskOutcome:
        # The user's own stored keys (decrypted, held in memory for this run only) are scanned for, by
        # exact match, before anything is pushed, commented or reviewed.
        if self._user_secrets is not None:
            self._run_secrets = tuple(await self._user_secrets.for_user(execution.user_id))
        try:
            if execution.mode is TaskMode.PR_REVIEW:
                return await self._review(execution)
            writable = execution.mode not in READ_ONLY_MODES
            async with self._open(execution, writable=writable) as workspace:
                if writable:
                    return await self._edit(execution, workspace)
                return await self._answer(execution, workspace)
        except TaskCancelled:
            raise
        except _Stop as stop:
            return stop.outcome
        except SandboxUnavailable:
            return TaskOutcome(
                failure=FailureReason.SANDBOX_UNAVAILABLE, message="No sandbox is available to run commands."
            )
        except ProviderError as exc:
            return TaskOutcome(
                failure=FailureReason.PROVIDER_ERROR, message=str(exc), transient=exc.retryable
            )
        except (Unavailable, NotFound) as exc:
            return TaskOutcome(
                failure=FailureReason.REPOSITORY_UNAVAILABLE,
                message=str(exc),
                transient=isinstance(exc, Unavailable),
            )

    # --- Ask and Architect ------------------------------------------------------------------------------

    async def _answer(self, x: TaskExecution, workspace: Workspace) -> TaskOutcome:
        seen: set[str] = set()

        async def check(args: dict[str, Any]) -> str | None:
            if x.mode is TaskMode.ASK:
                return _check_citations(args, seen)
            return await _check_affected(args, workspace)

        submit = SubmitTool(x.mode, check)
        tools = (*self._toolbox.tools_for(workspace, read_only=True, shell=False), submit)
        loop = self._loop(x, tools, seen=seen)
        result = await loop.run(_task_prompt(x))
        if result.end is not LoopEnd.SUBMITTED or result.submitted is None:
            return _unfinished(x, result, changed=())
        args = result.submitted
        if x.mode is TaskMode.ASK:
            cited = _unique(normalise_path(_strip_line(p)) for p in args["cited_files"])
            text = args["answer"].strip() + "\n\n**Files read:** " + ", ".join(f"`{p}`" for p in cited)
        else:
            text = args["plan"].strip() + "\n\n## Affected files\n"
            text += "\n".join(f"- `{normalise_path(p)}`" for p in args["affected_files"])
            new = args.get("new_files") or []
            if new:
                text += "\n\n## New files\n" + "\n".join(f"- `{normalise_path(p)}`" for p in new)
        return TaskOutcome(result=TaskResult(summary_markdown=text, partial=result.wrapped_up))

    # --- Debug and Documentation ------------------------------------------------------------------------

    async def _edit(self, x: TaskExecution, workspace: Workspace) -> TaskOutcome:
        docs_only = x.mode is TaskMode.DOCUMENTATION
        debug = x.mode is TaskMode.DEBUG
        tools: list[AgentTool] = list(
            self._toolbox.tools_for(
                workspace,
                read_only=False,
                shell=debug,
                test_command=x.repository.test_command if debug else None,
            )
        )
        if docs_only:
            tools = [DocsOnlyEdits(t) for t in tools]
        tests = next((RecordedTestRuns(t) for t in tools if t.definition.name == RUN_TESTS), None)
        if tests is not None:
            tools = [tests if t.definition.name == RUN_TESTS else t for t in tools]
        tools.append(SubmitTool(x.mode))
        reviewed = False
        reminded = False

        async def on_submit(_: dict[str, Any]) -> str | None:
            nonlocal reviewed, reminded
            changed = await workspace.changed_files()
            if tests is not None and changed and not tests.runs and not reminded:
                reminded = True
                return RUN_TESTS_FIRST
            if docs_only:
                code = [p for p in changed if not is_doc_path(p)]
                if code:
                    return (
                        "Refused: documentation tasks may change documentation only, but these files "
                        f"changed: {', '.join(code)}. Restore them, then submit again."
                    )
            if reviewed or not changed:
                return None
            reviewed = True
            return SELF_REVIEW.format(diff=_clip(await workspace.diff(), MAX_REVIEW_DIFF_CHARS))

        result = await self._loop(x, tools, on_submit=on_submit).run(_task_prompt(x, tests=tests is not None))
        changed = await workspace.changed_files()
        test_report = ""
        if tests is not None and x.repository.test_command:
            test_report = await self._report_tests(x, x.repository.test_command, tests)
        if result.end is LoopEnd.SUBMITTED and result.submitted is not None:
            title, summary = result.submitted["title"].strip(), result.submitted["summary"].strip()
            partial = result.wrapped_up
        else:
            outcome = _unfinished(x, result, changed=changed)
            if outcome.failure is not None or not changed or outcome.result is None:
                return outcome
            # Hand the partial work over as a draft pull request rather than throwing it away.
            title, summary, partial = (
                f"WIP: {_first_line(x.instructions)}",
                outcome.result.summary_markdown,
                True,
            )
        if docs_only and any(not is_doc_path(p) for p in changed):
            return TaskOutcome(
                failure=FailureReason.INVALID_REQUEST,
                message="Refused to push: a documentation task changed files that are not documentation.",
            )
        if not changed:
            return TaskOutcome(result=TaskResult(summary_markdown=summary + "\n\nNo files were changed."))
        if test_report:
            summary = f"{summary}\n\n{test_report}"
        published = await self._publish(x, workspace, title, summary, draft=partial)
        return TaskOutcome(result=replace(published, partial=partial, changed_files=changed))

    async def _report_tests(self, x: TaskExecution, command: str, tests: RecordedTestRuns) -> str:
        """Logs the outcome of the repository's tests and returns the pull request's "Tests" section."""
        if not tests.runs:
            await x.log.write(LogLevel.WARNING, "tests: not run", {"command": command, "runs": 0})
            return f"### Tests\n`{command}` was not run."
        last = tests.runs[-1]
        verdict = "passed" if last.passed else "failed"
        await x.log.write(
            LogLevel.INFO if last.passed else LogLevel.WARNING,
            f"tests: {verdict}",
            {"command": command, "runs": len(tests.runs), "passed": last.passed},
        )
        return (
            f"### Tests\n`{command}` {verdict} (last of {len(tests.runs)} run"
            f"{'s' if len(tests.runs) != 1 else ''} in the sandbox):\n\n"
            f"```\n{_clip(last.output.strip(), MAX_TEST_OUTPUT_CHARS)}\n```"
        )

    async def _publish(
        self, x: TaskExecution, workspace: Workspace, title: str, summary: str, *, draft: bool
    ) -> TaskResult:
        diff = await workspace.diff()
        message = f"{title[:72]}\n\n{summary}\n\nAsync Coder task {x.task_id}"
        body = f"{summary}\n\n---\nOpened by Async Coder (task {x.task_id})."
        self._block_secrets(diff, message, title, body)
        await workspace.commit_and_push(message)
        token = await x.git_credentials.token() or ""
        hosted = await self._open_or_reuse(token, x, workspace.branch, title[:256], body, draft=draft)
        async with self._uow as uow:
            pull = await uow.pull_requests.upsert(
                pull_request_from_host(
                    hosted,
                    pull_id=self._ids.new_id(),
                    repository_id=x.repository.repository_id,
                    now=self._clock.now(),
                    by_platform=True,
                )
            )
            await publish_pull_request_opened(uow, self._clock.now(), x.user_id, pull)  # the outbound webhook
            await uow.commit()
        return TaskResult(
            summary_markdown=summary,
            branch=workspace.branch,
            pull_request_url=hosted.html_url,
            pull_request_number=hosted.number,
            diff_stats=diff_stats(diff),
        )

    async def _open_or_reuse(
        self, token: str, x: TaskExecution, branch: str, title: str, body: str, *, draft: bool
    ) -> HostedPullRequest:
        name = x.repository.full_name
        found = await self._host.find_open_pull_request(token, name, branch)
        if found is not None:
            return found
        try:
            return await self._host.open_pull_request(
                token, name, head=branch, base=x.repository.base_branch, title=title, body=body, draft=draft
            )
        except Refused as exc:
            # GitHub answers 422 "A pull request already exists" when another attempt opened it meanwhile.
            if exc.code != "code_host_rejected":
                raise
            found = await self._host.find_open_pull_request(token, name, branch)
            if found is None:
                raise
            return found

    # --- PR Review --------------------------------------------------------------------------------------

    async def _review(self, x: TaskExecution) -> TaskOutcome:
        number = x.repository.pull_request_number
        if number is None:
            return TaskOutcome(failure=FailureReason.INVALID_REQUEST, message="No pull request to review.")
        token = await x.git_credentials.token() or ""
        details = await self._host.read_pull_request(token, x.repository.full_name, number)
        head = details.pull_request.head_sha or ""
        async with self._uow as uow:
            stored = await uow.pull_requests.get_by_number(x.repository.repository_id, number)
            reviews = await uow.pull_requests.list_reviews(stored.id) if stored else []
            comments = await uow.pull_requests.list_comments(stored.id) if stored else []
        ours = sorted(
            (r for r in reviews if r.by_platform and r.body),
            key=lambda r: (r.created_at, r.submitted_at or r.created_at),
        )
        last_head = next(
            (m.group(1) for r in reversed(ours) if (m := _REVIEW_MARKER_RE.search(r.body or ""))), None
        )
        posted = {
            m
            for text in [*(c.body for c in comments if c.by_platform), *(r.body or "" for r in ours)]
            for m in _FINDING_MARKER_RE.findall(text)
        }
        if last_head and last_head == head:
            return TaskOutcome(
                result=TaskResult(
                    summary_markdown=f"Already reviewed at `{head[:12]}`; no new commits.",
                    pull_request_number=number,
                    pull_request_url=details.pull_request.html_url,
                )
            )
        async with self._open(x, writable=False, ref=head or None) as workspace:
            diff = details.diff
            if last_head:
                try:
                    diff = await workspace.diff(against=last_head)
                except Unavailable:
                    # The last reviewed commit is gone (a force-push): review the whole pull request again.
                    last_head = None
            files = {f.path: f for f in parse_unified_diff(diff)}
            # The rendered files that fit half the context window (code first; lockfiles, generated,
            # deletion-only and binary files last), then a list of the others by name.
            budget = int(x.models.context_window * REVIEW_DIFF_SHARE)
            packed = pack_files(files.values(), budget, measure=estimate_tokens)
            findings = FindingsTool(files)
            tools = (
                *self._toolbox.tools_for(workspace, read_only=True, shell=False),
                findings,
                SubmitTool(TaskMode.PR_REVIEW),
            )
            scope = f"the commits after `{last_head[:12]}`" if last_head else "the whole pull request"
            prompt = (
                f"{_task_prompt(x)}\n\nPull request #{number}: {details.pull_request.title}\n"
                f"Review {scope}. The diff, with new-side line numbers:\n\n{packed.text}"
            )
            result = await self._loop(x, tools).run(prompt)
        if result.end is LoopEnd.SUBMITTED and result.submitted is not None:
            summary = result.submitted["summary"].strip()
            event = str(result.submitted.get("event") or "COMMENT")
        else:
            unfinished = _unfinished(x, result, changed=())
            if unfinished.failure is not None or unfinished.result is None:
                return unfinished
            summary, event = unfinished.result.summary_markdown, "COMMENT"
        fresh = [f for f in findings.findings if f.fingerprint not in posted]
        body, inline = _review_texts(summary, fresh, head)
        self._block_secrets(body, *(c.body for c in inline))
        try:
            review = await self._host.post_review(
                token,
                x.repository.full_name,
                number,
                body=body,
                event=event,
                comments=inline,
                commit_sha=head,
            )
        except Refused as exc:
            if exc.code != "review_comment_rejected":
                raise
            # GitHub does not say which comment it refused: those its own diff of the pull request cannot
            # carry (a re-review's diff against the last review may differ), or else all of them, go to the
            # summary, and the review is posted once more.
            github_files = parse_unified_diff(details.diff)
            refused = [f for f in fresh if f.in_diff and not _fits(github_files, f)]
            if not refused:
                refused = [f for f in fresh if f.in_diff]
            fresh = [replace(f, in_diff=False) if f in refused else f for f in fresh]
            body, inline = _review_texts(summary, fresh, head)
            await x.log.write(
                LogLevel.WARNING,
                f"GitHub refused an inline comment; {len(refused)} moved to the review summary",
                {"moved": [f.where for f in refused]},
            )
            review = await self._host.post_review(
                token,
                x.repository.full_name,
                number,
                body=body,
                event=event,
                comments=inline,
                commit_sha=head,
            )
        now = self._clock.now()
        async with self._uow as uow:
            pull = stored or await uow.pull_requests.upsert(
                pull_request_from_host(
                    details.pull_request,
                    pull_id=self._ids.new_id(),
                    repository_id=x.repository.repository_id,
                    now=now,
                    by_platform=False,
                )
            )
            await record_posted_review_in(
                uow,
                self._ids,
                pull,
                review,
                body=body,
                commit_sha=head or None,
                comments=inline,
                now=now,
                user_id=x.user_id,
            )
            await uow.commit()
        return TaskOutcome(
            result=TaskResult(
                summary_markdown=body,
                pull_request_number=number,
                pull_request_url=details.pull_request.html_url,
                partial=result.end is not LoopEnd.SUBMITTED or result.wrapped_up,
            )
        )

    # --- shared -----------------------------------------------------------------------------------------

    def _loop(
        self,
        x: TaskExecution,
        tools: Sequence[AgentTool],
        *,
        on_submit: Any = None,
        seen: set[str] | None = None,
    ) -> AgentLoop:
        return AgentLoop(
            x,
            clock=self._clock,
            system=SYSTEM_PROMPTS[x.mode],
            tools=tools,
            limits=self._limits,
            on_submit=on_submit,
            seen_paths=seen,
        )

    def _block_secrets(self, *texts: str) -> None:
        leaks = [excerpt for text in texts for excerpt in self._scan(text, self._run_secrets)]
        if leaks:
            raise _Stop(
                TaskOutcome(
                    failure=FailureReason.INVALID_REQUEST,
                    message="Blocked before publishing: the output contains what looks like a secret ("
                    + "; ".join(leaks[:5])
                    + ").",
                )
            )


def _task_prompt(x: TaskExecution, *, tests: bool = False) -> str:
    lines = [
        f"Repository: {x.repository.full_name} (base branch {x.repository.base_branch})",
        f"Task:\n{x.instructions.strip()}",
    ]
    if tests and x.repository.test_command:
        lines.append(
            f"The repository's test command, run by `run_tests` in the sandbox: `{x.repository.test_command}`"
            ". Run it after your fix and before you submit; the result goes into the pull request."
        )
    return "\n\n".join(lines)


def _unfinished(x: TaskExecution, result: LoopResult, *, changed: Sequence[str]) -> TaskOutcome:
    if result.end is LoopEnd.MALFORMED:
        return TaskOutcome(
            failure=FailureReason.PROVIDER_ERROR,
            message=f"The model stopped making progress: {result.reason}.",
        )
    notes = handoff_notes(result, changed)
    partial = TaskResult(summary_markdown=notes, changed_files=tuple(changed), partial=True)
    if result.end is LoopEnd.DEADLINE:
        return TaskOutcome(result=partial, failure=FailureReason.TIMEOUT, message="The time limit passed.")
    return TaskOutcome(result=partial)


def handoff_notes(result: LoopResult, changed: Sequence[str]) -> str:
    """Deterministic notes for whoever continues: why it stopped, what the model said last, what changed."""
    lines = [
        "## Hand-off notes",
        f"Stopped after {result.steps} steps: {result.reason}.",
    ]
    if result.last_text:
        lines += ["", "Last note from the model:", "", _clip(result.last_text, 4000)]
    if changed:
        lines += ["", "Files changed:", *(f"- `{p}`" for p in changed)]
    if result.seen_paths:
        lines += ["", "Files looked at:", *(f"- `{p}`" for p in sorted(result.seen_paths))]
    return "\n".join(lines)


def _review_texts(summary: str, findings: list[Finding], head: str) -> tuple[str, list[InlineComment]]:
    inline = [
        InlineComment(
            f.path,
            f.line,
            f"**{f.title}** ({f.severity})\n\n{f.body}\n\n{FINDING_MARKER.format(f.fingerprint)}",
            side=f.side,
            start_line=f.start_line,
        )
        for f in findings
        if f.in_diff
    ]
    outside = [f for f in findings if not f.in_diff]
    body = summary
    if outside:
        body += "\n\n### Findings outside the diff\n" + "\n".join(
            f"- `{f.where}` **{f.title}** ({f.severity}): {f.body} " + FINDING_MARKER.format(f.fingerprint)
            for f in outside
        )
    body += "\n\n" + REVIEW_MARKER.format(head)
    return body, inline


def _fits(files: Sequence[FileDiff], finding: Finding) -> bool:
    check = validate_finding(
        files, path=finding.path, line=finding.line, side=finding.side, start_line=finding.start_line
    )
    return check.ok


def _check_citations(args: dict[str, Any], seen: set[str]) -> str | None:
    cited = [normalise_path(_strip_line(p)) for p in args.get("cited_files", [])]
    if not cited:
        return "Cite at least one file you read (`cited_files`)."
    unread = [p for p in cited if p not in seen]
    if unread:
        return f"You cited files you have not opened: {', '.join(unread)}. Open them first or drop them."
    return None


async def _check_affected(args: dict[str, Any], workspace: Workspace) -> str | None:
    affected = [normalise_path(p) for p in args.get("affected_files", [])]
    if not affected and not args.get("new_files"):
        return "Name the files the plan changes (`affected_files`) or creates (`new_files`)."
    missing = [p for p in affected if not await workspace.is_file(p)]
    if missing:
        return (
            f"These affected files do not exist: {', '.join(missing)}. Use real paths, or list files to be "
            "created under `new_files`."
        )
    return None


def _strip_line(path: str) -> str:
    return re.sub(r":\d+(-\d+)?$", "", path.strip().strip("`"))


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or ["changes"])[0][:60]


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"


def diff_stats(diff: str) -> DiffStats:
    files = additions = deletions = 0
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            files += 1
        elif line.startswith("+") and not line.startswith("+++"):
            additions += 1
        elif line.startswith("-") and not line.startswith("---"):
            deletions += 1
    return DiffStats(files, additions, deletions)
