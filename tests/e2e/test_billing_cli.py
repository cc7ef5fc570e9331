"""``asynccoder expire-holds`` returns the credits of stale holds."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import ManualClock, SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.billing.credits import (
    GrantCredits,
    GrantCreditsInput,
    ReserveCredits,
    ReserveCreditsInput,
)
from tests.e2e.test_cli import run_cli
from tests.support.builders import make_user


async def test_expire_holds_returns_stale_reservations(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'holds.db'}"
    migrations_runner.upgrade(url)
    engine = create_engine(url)
    ids = Uuid7Generator()
    user = make_user(id=ids.new_id())
    long_ago = ManualClock(SystemClock().now() - timedelta(days=1))
    try:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            await uow.users.add(user)
            await uow.commit()
        await GrantCredits(SqlAlchemyUnitOfWork(engine), long_ago, ids)(GrantCreditsInput(user.id, 50, "g"))
        await ReserveCredits(SqlAlchemyUnitOfWork(engine), long_ago, ids)(
            ReserveCreditsInput(user.id, 20, "task:stale", ttl=timedelta(minutes=5))
        )

        result = run_cli("expire-holds", env={"DATABASE_URL": url, "ASYNCCODER_DATA_DIR": str(tmp_path)})

        assert result.returncode == 0, result.stderr
        assert "Expired 1 stale credit hold(s)." in result.stdout
        async with SqlAlchemyUnitOfWork(engine) as uow:
            account = await uow.credits.get_account(user.id)
        assert (account.available, account.held) == (50, 0)
    finally:
        await engine.dispose()


_SDKS = ("anthropic", "openai", "google.genai", "stripe", "github")

_PROBE = """
import sys
from asynccoder.entrypoints.cli import main
code = main(["expire-holds"])
print("loaded:" + ",".join(sorted(m for m in {sdks!r} if m in sys.modules)))
sys.exit(code)
"""


def test_a_maintenance_command_imports_no_provider_sdk(tmp_path: Path) -> None:
    # Cron runs expire-holds every few minutes: it must not pay seconds of SDK imports it never uses.
    url = f"sqlite+aiosqlite:///{tmp_path / 'holds.db'}"
    migrations_runner.upgrade(url)
    env = {**os.environ, "DATABASE_URL": url, "ASYNCCODER_DATA_DIR": str(tmp_path)}

    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(sdks=_SDKS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Expired 0 stale credit hold(s)." in result.stdout
    assert "loaded:\n" in result.stdout
