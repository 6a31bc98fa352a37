"""`canceldesk migrate` builds exactly the schema the code maps, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from canceldesk.adapters import migrate, orm
from support import PG_URL, empty_postgres_schema


def test_one_linear_history():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, f"migrations have several heads: {script.get_heads()} — chain them"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_head_matches_the_orm(backend, tmp_path):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/m.db"
    else:
        url = PG_URL
        empty_postgres_schema(url)
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), orm.metadata)
    engine.dispose()
    significant = [d for d in diff if not (isinstance(d, tuple) and d[0] in ("add_table", "remove_table")
                                           and getattr(d[1], "name", "") in ("sim_calls",))]
    assert significant == [], f"schema drift between migrations and orm.py: {significant}"
