"""Engines: SQLite (WAL, immediate write transactions) by default, PostgreSQL via psycopg 3."""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time

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


class WriteGate:
    """The queue of this database file's writers, in front of SQLite's write lock.

    SQLite's busy handler polls with sleeps that grow to 100 ms: under load a writer that has waited
    a while sleeps through many releases of the lock while newcomers (polling every 1–5 ms) take it,
    so the lock sits idle between holders and the unlucky waiter's latency runs into seconds. Here
    the writers of one process queue on a lock (woken at once, in order) and the one at its head
    takes a `flock` on `<database>-writegate` (released by the kernel if the process dies), polled
    every ~0.5 ms, so one waiter per process and no long sleeps. SQLite's own lock is still what
    guards the data: a writer outside this gate (another tool, the sqlite3 shell) is waited for by
    the busy handler as before. Waiting longer than the busy timeout raises "database is locked",
    the same busy error (a 503 with Retry-After at the API) as before.
    """

    def __init__(self, path: str):
        self.path = path + "-writegate"
        self.lock = threading.Lock()
        self.holder = None  # the DB-API connection whose write transaction holds the gate
        self.fd: int | None = None  # open only while held: closing it gives the flock back

    def acquire(self, dbapi_conn, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if not self.lock.acquire(timeout=timeout):
            raise _locked()
        fd = None
        try:
            fd, pause = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), 0.0002
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise _locked() from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.0005)
        except BaseException:
            if fd is not None:
                os.close(fd)
            self.lock.release()
            raise
        self.holder, self.fd = dbapi_conn, fd

    def release(self, dbapi_conn) -> None:
        if dbapi_conn is None or self.holder is not dbapi_conn:
            return
        fd, self.holder, self.fd = self.fd, None, None
        try:
            os.close(fd)
        finally:
            self.lock.release()

    def reset_after_fork(self) -> None:
        # the parent's holder is not this process's: the child starts with a free gate (and closes its
        # copy of the parent's descriptor, which would otherwise keep the parent's flock alive)
        if self.fd is not None:
            os.close(self.fd)
        self.lock, self.holder, self.fd = threading.Lock(), None, None


def _locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def _gate_for(path: str) -> WriteGate:
    """One gate per database file per process, whatever the number of engines on it."""
    key = os.path.abspath(path)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = WriteGate(key)
        return gate


def _reset_gates_after_fork() -> None:
    global _gates_lock
    _gates_lock = threading.Lock()
    for gate in _gates.values():
        gate.reset_after_fork()


os.register_at_fork(after_in_child=_reset_gates_after_fork)


def _raw(conn):
    return getattr(conn, "dbapi_connection", conn)


def _install_gate(engine: Engine, gate: WriteGate) -> None:
    """The gate is taken right before BEGIN IMMEDIATE and given back right after the COMMIT or ROLLBACK
    (also the pool's rollback of a connection handed back mid-transaction, and a connection closed or
    invalidated while it held the gate)."""
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_conn):
        try:
            commit(dbapi_conn)
        finally:
            gate.release(_raw(dbapi_conn))

    def do_rollback(dbapi_conn):
        try:
            rollback(dbapi_conn)
        finally:
            gate.release(_raw(dbapi_conn))

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine, "close")
    def _closed(dbapi_conn, _record):
        gate.release(dbapi_conn)

    @event.listens_for(engine, "invalidate")
    def _invalidated(dbapi_conn, _record, _exc):
        gate.release(dbapi_conn)


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

        on_file = "///" in url and path and ":memory:" not in path and "?" not in path and not path.startswith("file:")
        gate = _gate_for(path) if on_file else None
        if gate is not None:
            _install_gate(engine, gate)

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # A read-only unit of work (`Container.uow(readonly=True)`) begins deferred: in WAL mode
            # a reader takes no lock, so reads never queue behind writers in other processes.
            if conn.get_execution_options().get(READONLY):
                conn.exec_driver_sql("BEGIN")
                return
            if gate is None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            raw = conn.connection.dbapi_connection
            gate.acquire(raw, busy_timeout_seconds)  # writers queue in the gate (WriteGate), then take SQLite's lock at once
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                gate.release(raw)
                raise

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
