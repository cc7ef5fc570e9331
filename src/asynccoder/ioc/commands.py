"""Operator jobs run outside HTTP through the container (the CLI calls these): migrations, admins, keys."""

from __future__ import annotations

from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.key_rotation import RotationCount, rotate_sealed_columns
from asynccoder.application.identity.registration import (
    EnsureAdmin,
    EnsureAdminCommand,
    EnsureAdminResult,
)
from asynccoder.ioc.core import make_container
from asynccoder.ioc.settings import Settings


async def ensure_admin(settings: Settings, command: EnsureAdminCommand) -> EnsureAdminResult:
    """Run ``EnsureAdmin`` outside HTTP (the ``create-admin`` command)."""
    container = make_container(settings)
    try:
        async with container() as request:
            use_case = await request.get(EnsureAdmin)
            return await use_case(command)
    finally:
        await container.close()


async def rotate_keys(settings: Settings, *, batch_size: int = 100) -> list[RotationCount]:
    """Re-encrypt every sealed column under the newest key of ``ENCRYPTION_KEYS`` (``rotate-keys``)."""
    engine = create_engine(settings.database_url)
    box = AesGcmSecretBox([(key.key_id, key.material) for key in settings.encryption_keys])
    try:
        return await rotate_sealed_columns(engine, box, batch_size=batch_size)
    finally:
        await engine.dispose()


def migrate_to_head(settings: Settings) -> None:
    """Upgrade the configured database to every migration head. Blocking."""
    migrations_runner.upgrade(settings.database_url)


def migrate_to_base(settings: Settings) -> None:
    migrations_runner.downgrade(settings.database_url)
