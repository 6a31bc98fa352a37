"""Migration 0003 (keyed audit chain, escalating lockouts) creates exactly what the ORM maps, on
SQLite and PostgreSQL; the downgrade takes it away again; the app's audit chain works on top."""
from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from canceldesk.adapters import migrate, orm
from support import PG_URL, empty_postgres_schema, require_service

CHANGED = {"audit_log": ("seq", "key_id"), "audit_head": None, "login_locks": ("lockouts",)}


def _check(url: str) -> None:
    cfg = migrate.alembic_config(url)
    command.upgrade(cfg, "0003")
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        for table in CHANGED:
            got = {c["name"]: c["nullable"] for c in insp.get_columns(table)}
            want = {c.name: c.nullable for c in orm.metadata.tables[table].columns}
            assert got == want, table
        uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("audit_log")}
        uniques |= {tuple(i["column_names"]) for i in insp.get_indexes("audit_log") if i["unique"]}
        assert ("seq",) in uniques
        with engine.begin() as conn:  # existing lock rows get a lockout count of 0
            conn.execute(text("INSERT INTO login_locks (subject, failures) VALUES ('otp:x', 1)"))
            assert conn.execute(text("SELECT lockouts FROM login_locks")).scalar_one() == 0
        command.downgrade(cfg, "0001")
        insp = inspect(engine)
        assert "audit_head" not in insp.get_table_names()
        assert "seq" not in {c["name"] for c in insp.get_columns("audit_log")}
    finally:
        engine.dispose()


def test_migration_0003_on_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path}/m.db")


@pytest.mark.postgres
def test_migration_0003_on_postgres():
    empty_postgres_schema(PG_URL)
    _check(PG_URL)


@pytest.mark.postgres
def test_the_audit_chain_stays_linear_under_concurrent_writers_on_postgres():
    """Many transactions appending at once (logins, transitions) still form one unbroken chain."""
    from concurrent.futures import ThreadPoolExecutor

    from canceldesk.service_layer import audit
    from support import make_container
    require_service("postgres", PG_URL)
    c = make_container(PG_URL)

    def write(i: int) -> None:
        with c.uow() as uow:
            audit.record(uow, at=c.now(), actor=f"test:{i}", event="concurrency")
            audit.record(uow, at=c.now(), actor=f"test:{i}", event="concurrency-2")
            uow.commit()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(80)))
    assert audit.verify_chain(c) == []
    assert audit.head(c)["seq"] == 160
    c.dispose()
