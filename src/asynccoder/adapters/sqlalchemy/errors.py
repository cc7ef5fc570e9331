"""Reading database errors without depending on one driver."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

# SQLite reports constraints by column list, not by name: map those messages to the named constraint.
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")
_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (\w+)")


def constraint_name(exc: IntegrityError) -> str | None:
    """The name of the constraint an ``IntegrityError`` broke, following ``NAMING_CONVENTION``."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return str(diag.constraint_name)
    message = str(orig)
    if m := _SQLITE_UNIQUE.search(message):
        columns = [part.strip() for part in m.group(1).split(",")]
        table = columns[0].split(".")[0]
        return f"uq_{table}_" + "_".join(c.split(".")[1] for c in columns)
    if m := _SQLITE_CHECK.search(message):
        return m.group(1)
    return None
