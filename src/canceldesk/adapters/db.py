"""Engines: SQLite (WAL, immediate write transactions) by default, PostgreSQL via psycopg 3."""
from __future__ import annotations

import os

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine


READONLY = "canceldesk_readonly"  # execution option of a read-only unit of work's connection
BUSY_SQLSTATES = frozenset({"55P03", "57014", "40P01", "40001"})  # lock not available, timeout, deadlock, serialization


def is_busy(exc: BaseException) -> bool:
    """A lock waited past the busy timeout (SQLite "database is locked", PostgreSQL lock/statement
    timeout, deadlock, serialization failure): nothing was written; the same call may succeed later."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    return "database is locked" in str(orig or exc) or "database table is locked" in str(orig or exc)


def make_engine(url: str, pool_size: int = 10, busy_timeout_seconds: float = 30) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_seconds},
                               hide_parameters=True,
                               pool_size=pool_size, max_overflow=20)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # Let SQLAlchemy drive transactions; we emit BEGIN IMMEDIATE ourselves so two writers
            # queue on the lock instead of failing with "database is locked" on upgrade.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # A read-only unit of work (`Container.uow(readonly=True)`) begins deferred: in WAL mode
            # a reader takes no lock, so reads never queue behind writers in other processes.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READONLY) else "BEGIN IMMEDIATE")

        return engine
    # hide_parameters: an error message never carries row values (names, ID numbers).
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True, hide_parameters=True)


def recreate_schema(engine: Engine) -> None:
    """Tests and benchmarks: drop everything and create the mapped schema afresh (never in production)."""
    from sqlalchemy import text

    from canceldesk.adapters import orm
    from canceldesk.adapters.downstream import sim_metadata
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        orm.metadata.drop_all(engine)
        sim_metadata.drop_all(engine)
    orm.metadata.create_all(engine)
    sim_metadata.create_all(engine)
