"""Migration 0005 (complaints, batches, batch_items) and the revisions after it create exactly what the ORM maps, on SQLite
and PostgreSQL, and its downgrade removes it."""
from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from canceldesk.adapters import migrate, orm
from support import PG_URL, empty_postgres_schema

TABLES = ("complaints", "batches", "batch_items")


def _shape(insp, table: str) -> dict:
    cols = {c["name"]: (c["nullable"], type(c["type"]).__name__.lower()) for c in insp.get_columns(table)}
    idx = {(tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)}
    idx |= {(tuple(u["column_names"]), True) for u in insp.get_unique_constraints(table)}
    return {"columns": {k: v[0] for k, v in cols.items()}, "indexes": idx}


def _check(url: str) -> None:
    cfg = migrate.alembic_config(url)
    command.upgrade(cfg, "head")  # 0005 created these tables; later revisions (0009: partner items) add columns
    engine = create_engine(url)
    try:
        migrated = inspect(engine)
        assert set(TABLES) <= set(migrated.get_table_names())
        for t in TABLES:
            got = _shape(migrated, t)
            want_cols = {c.name: c.nullable for c in orm.metadata.tables[t].columns}
            assert got["columns"] == want_cols, t
            want_idx = {(tuple(c.name for c in i.columns), bool(i.unique)) for i in orm.metadata.tables[t].indexes}
            want_idx |= {((c.name,), True) for c in orm.metadata.tables[t].columns if c.unique}
            assert want_idx <= got["indexes"], (t, want_idx - got["indexes"])
        command.downgrade(cfg, "0001")
        assert not set(TABLES) & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migration_0005_on_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path}/m.db")


@pytest.mark.postgres
def test_migration_0005_on_postgres():
    empty_postgres_schema(PG_URL)
    _check(PG_URL)
