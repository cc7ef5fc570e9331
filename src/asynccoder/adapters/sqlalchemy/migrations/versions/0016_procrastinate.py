"""procrastinate's schema on PostgreSQL (the ``procrastinate`` task queue engine)

Revision ID: 0016_procrastinate
Revises: 0015_repository_test_command
Create Date: 2026-12-02

On PostgreSQL only, installs the schema of procrastinate (its ``procrastinate_*`` types, tables, functions and
triggers) exactly as the installed package ships it (``procrastinate/sql/schema.sql``); the downgrade drops
every ``procrastinate_*`` object again. Nothing on SQLite (procrastinate needs PostgreSQL). Alembic's
autogenerate ignores those tables (``env.py``): procrastinate owns them.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from alembic import op

revision: str = "0016_procrastinate"
down_revision: str | Sequence[str] | None = "0015_repository_test_command"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_DROP_PROCRASTINATE = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables
             WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%' LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || r.signature || ' CASCADE';
    END LOOP;
    FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
               AND t.typtype IN ('e', 'c') LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
    END LOOP;
END $$;
"""


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _execute_script(script: str) -> None:
    # Straight to the driver (no bind-parameter parsing of the script); psycopg reads "%%" as "%".
    op.get_bind().exec_driver_sql(script.replace("%", "%%"))


def upgrade() -> None:
    if _is_postgres():
        schema = resources.files("procrastinate.sql").joinpath("schema.sql").read_text(encoding="utf-8")
        _execute_script(schema)


def downgrade() -> None:
    if _is_postgres():
        _execute_script(_DROP_PROCRASTINATE)
