"""Engines: SQLite (WAL, immediate write transactions) by default, PostgreSQL via psycopg 3."""
from __future__ import annotations

import os
import threading

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError


READONLY = "canceldesk_readonly"  # execution option of a read-only unit of work's connection
BUSY_SQLSTATES = frozenset({"55P03", "57014", "40P01", "40001"})  # lock not available, timeout, deadlock, serialization


def is_busy(exc: BaseException) -> bool:
    """A lock waited past the busy timeout (SQLite "database is locked", PostgreSQL lock/statement
    timeout, deadlock, serialization failure): nothing was written; the same call may succeed later."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    return "database is locked" in str(orig or exc) or "database table is locked" in str(orig or exc)


_writer_locks: dict[str, threading.Lock] = {}
_writer_locks_guard = threading.Lock()


def _writer_lock(path: str) -> threading.Lock:
    """One lock per SQLite file per process: the process's writers queue on it in order instead of
    each polling SQLite's busy handler (which sleeps up to 100 ms a try — the tail of every
    contended write). Other processes still meet at SQLite's own lock."""
    key = os.path.abspath(path) if path and path != ":memory:" else f"memory:{id(path)}"
    with _writer_locks_guard:
        return _writer_locks.setdefault(key, threading.Lock())


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

        lock = _writer_lock(path) if path and path != ":memory:" else None
        holders: dict[int, threading.Lock] = {}  # DBAPI connection id -> the writer lock it holds

        def _release(dbapi_conn) -> None:
            held = holders.pop(id(getattr(dbapi_conn, "dbapi_connection", dbapi_conn)), None)
            if held is not None:
                held.release()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # A read-only unit of work (`Container.uow(readonly=True)`) begins deferred: in WAL mode
            # a reader takes no lock, so reads never queue behind writers in other processes.
            if conn.get_execution_options().get(READONLY):
                conn.exec_driver_sql("BEGIN")
                return
            dbapi_conn = conn.connection.dbapi_connection
            if lock is not None:
                if not lock.acquire(timeout=busy_timeout_seconds):
                    raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked (this process's writers)"))
                holders[id(dbapi_conn)] = lock
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                _release(dbapi_conn)
                raise

        # The lock is handed on only once COMMIT/ROLLBACK has run (SQLAlchemy's commit event fires before).
        dialect = engine.dialect
        plain_commit, plain_rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_conn):
            try:
                plain_commit(dbapi_conn)
            finally:
                _release(dbapi_conn)

        def do_rollback(dbapi_conn):
            try:
                plain_rollback(dbapi_conn)
            finally:
                _release(dbapi_conn)

        dialect.do_commit, dialect.do_rollback = do_commit, do_rollback
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
