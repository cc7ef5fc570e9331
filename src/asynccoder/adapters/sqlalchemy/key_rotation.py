"""Re-encrypting every sealed column under the newest key (``asynccoder rotate-keys``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.sealed_columns import SEALED_COLUMNS, SealedColumn
from asynccoder.application.ports.system import (
    SecretBox,
    SecretUnreadable,
)


@dataclass
class RotationCount:
    column: str
    rotated: int = 0
    current: int = 0
    skipped: int = 0  # changed concurrently (the writer sealed it under the current key anyway)
    unreadable: int = 0


async def rotate_sealed_columns(
    engine: AsyncEngine,
    box: SecretBox,
    *,
    batch_size: int = 100,
    columns: Sequence[SealedColumn] | None = None,
) -> list[RotationCount]:
    """Walk each column in key order, one transaction per batch, with ``UPDATE ... WHERE sealed = :old``.

    Interrupting it loses at most one batch of work; running it again continues (rows already under the
    newest key are skipped). A row whose value changed since it was read is left alone (the concurrent
    writer used the current key). Rows that cannot be decrypted are counted and left unchanged.
    """
    counts: list[RotationCount] = []
    for column in columns if columns is not None else SEALED_COLUMNS:
        table = column.table
        key = table.c[column.key_column]
        sealed = table.c[column.sealed_column]
        count = RotationCount(column=f"{table.name}.{column.sealed_column}")
        last: Any = None
        while True:
            async with engine.begin() as conn:
                query = sa.select(table).order_by(key).limit(batch_size)
                if last is not None:
                    query = query.where(key > last)
                rows = (await conn.execute(query)).all()
                if not rows:
                    break
                for row in rows:
                    old = row._mapping[column.sealed_column]
                    if old is None:
                        continue
                    try:
                        if not box.needs_rotation(old):
                            count.current += 1
                            continue
                        context = column.context(row)
                        new = box.encrypt(box.decrypt(old, context=context), context=context)
                    except SecretUnreadable:
                        count.unreadable += 1
                        continue
                    result = await conn.execute(
                        table.update()
                        .where(key == row._mapping[column.key_column], sealed == old)
                        .values({column.sealed_column: new})
                    )
                    if result.rowcount == 1:
                        count.rotated += 1
                    else:
                        count.skipped += 1
                last = rows[-1]._mapping[column.key_column]
        counts.append(count)
    return counts
