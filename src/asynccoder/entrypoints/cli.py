"""The ``asynccoder`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from asynccoder import __version__
from asynccoder.ioc.settings import Settings, SettingsError, load_settings

Command = Callable[[argparse.Namespace, Settings], int]
_COMMANDS: dict[str, Command] = {}


def say(message: str, *, error: bool = False) -> None:
    """Write a line for the operator (stdout, or stderr for errors)."""
    stream = sys.stderr if error else sys.stdout
    stream.write(message + "\n")
    stream.flush()


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        _COMMANDS[name] = fn
        return fn

    return register


@command("serve")
def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from asynccoder.entrypoints.http.server import BoundedHeadProtocol
    from asynccoder.ioc.commands import migrate_to_head

    if settings.auto_migrate and args.workers > 1:
        # Migrate once here instead of racing in every worker process.
        migrate_to_head(settings)
    uvicorn.run(
        "asynccoder.entrypoints.http.app:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=None if args.reload else args.workers,
        reload=args.reload,
        proxy_headers=False,  # client addresses come from the trusted-proxy logic, never blindly from headers
        server_header=False,
        log_config=None,
        http=BoundedHeadProtocol,  # httptools, with a deadline and a size limit on request heads
        timeout_keep_alive=settings.server_keep_alive_timeout_seconds,
        limit_concurrency=settings.server_limit_concurrency,
        backlog=settings.server_backlog,
        h11_max_incomplete_event_size=settings.server_max_header_bytes,
        timeout_graceful_shutdown=settings.server_graceful_timeout_seconds,
    )
    return 0


@command("worker")
def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from asynccoder.entrypoints.worker import run_worker
    from asynccoder.ioc.commands import migrate_to_head

    if settings.auto_migrate:
        migrate_to_head(settings)
    asyncio.run(run_worker(settings))
    return 0


@command("migrate")
def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from asynccoder.ioc.commands import (
        migrate_to_base,
        migrate_to_head,
    )

    if args.downgrade_to_base:
        migrate_to_base(settings)
        say("Downgraded the database to an empty schema.")
    else:
        migrate_to_head(settings)
        say("The database schema is at head.")
    return 0


@command("create-admin")
def _create_admin(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from asynccoder.application.identity.registration import EnsureAdminCommand
    from asynccoder.domain.errors import DomainError
    from asynccoder.ioc.commands import ensure_admin, migrate_to_head

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if settings.auto_migrate:
        migrate_to_head(settings)
    try:
        result = asyncio.run(ensure_admin(settings, EnsureAdminCommand(email=args.email, password=password)))
    except DomainError as exc:
        say(f"{exc.message} ({exc.code})", error=True)
        return 2
    verb = "Created" if result.created else "Promoted"
    say(f"{verb} admin {result.user_id}.")
    if not result.has_password:
        clerk = (
            "through Clerk"
            if settings.clerk_jwks_url and settings.clerk_issuer
            else "through Clerk, which is not configured here (CLERK_JWKS_URL and CLERK_ISSUER)"
        )
        say(
            f"This admin has no password: they cannot sign in with POST /api/v1/auth/login, only {clerk}. "
            f"To set one: asynccoder create-admin --email {args.email} --password-stdin "
            "(then type the password and press Enter)."
        )
    return 0


@command("rotate-keys")
def _rotate_keys(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from asynccoder.ioc.commands import rotate_keys

    counts = asyncio.run(rotate_keys(settings, batch_size=args.batch_size))
    failed = False
    for count in counts:
        say(
            f"{count.column}: rotated {count.rotated}, already current {count.current}, "
            f"changed concurrently {count.skipped}, unreadable {count.unreadable}"
        )
        failed = failed or count.unreadable > 0
    return 1 if failed else 0


@command("expire-holds")
def _expire_holds(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from dishka import Scope

    from asynccoder.application.billing.credits import ExpireHolds, ExpireHoldsInput
    from asynccoder.ioc.core import make_container

    async def run() -> int:
        container = make_container(settings)
        try:
            async with container(scope=Scope.REQUEST) as request:
                use_case = await request.get(ExpireHolds)
                return await use_case(ExpireHoldsInput(limit=args.limit))
        finally:
            await container.close()

    expired = asyncio.run(run())
    say(f"Expired {expired} stale credit hold(s).")
    return 0


@command("prune-github-deliveries")
def _prune_github_deliveries(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from dishka import Scope

    from asynccoder.application.code_hosting.webhooks import PruneGitHubDeliveries
    from asynccoder.ioc.core import make_container

    async def run() -> int:
        container = make_container(settings)
        try:
            async with container(scope=Scope.REQUEST) as request:
                use_case = await request.get(PruneGitHubDeliveries)
                return (await use_case()).deleted
        finally:
            await container.close()

    deleted = asyncio.run(run())
    days = settings.github_delivery_retention_days
    say(f"Deleted {deleted} GitHub delivery record(s) older than {days} days.")
    return 0


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum`` (a batch of 0 would succeed doing nothing)."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asynccoder", description="Async Coder backend.")
    parser.add_argument("--version", action="version", version=f"asynccoder {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--reload", action="store_true", help="restart on code changes (development)")

    sub.add_parser("worker", help="run a task worker (as many processes as you like)")

    migrate = sub.add_parser("migrate", help="upgrade the database schema to the newest version")
    migrate.add_argument(
        "--downgrade-to-base", action="store_true", help="drop every table the migrations made"
    )

    create_admin = sub.add_parser("create-admin", help="create an admin account or promote an existing one")
    create_admin.add_argument("--email", required=True)
    create_admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )

    rotate = sub.add_parser("rotate-keys", help="re-encrypt every stored secret under the newest key")
    rotate.add_argument("--batch-size", type=_at_least(1), default=100, help="rows per transaction (>= 1)")
    expire = sub.add_parser("expire-holds", help="return the credits of holds past their expiry")
    expire.add_argument(
        "--limit", type=_at_least(1), default=500, help="at most this many holds per run (>= 1)"
    )

    sub.add_parser(
        "prune-github-deliveries",
        help="delete GitHub delivery records older than GITHUB_DELIVERY_RETENTION_DAYS (the worker does too)",
    )

    for extend in _PARSER_EXTENSIONS:
        extend(sub)
    return parser


_PARSER_EXTENSIONS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


def read_dotenv(directory: Path | None = None) -> None:
    """Put the variables of ``.env`` in ``directory`` (the current one by default) into the environment, each
    only when the environment does not set it already: a real environment variable always wins. Only the
    command line reads it (servers started with ``asynccoder serve`` inherit the result); an ASGI server
    pointed at the app factory directly reads the environment alone."""
    from dotenv import load_dotenv

    load_dotenv((directory or Path.cwd()) / ".env", override=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    read_dotenv()
    try:
        settings = load_settings()
    except SettingsError as exc:
        say(str(exc), error=True)
        return 2
    return _COMMANDS[args.command](args, settings)


if __name__ == "__main__":
    sys.exit(main())
