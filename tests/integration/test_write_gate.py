"""SQLite writers queue in the write gate (adapters/db.py: WriteGate) instead of polling SQLite's lock with
growing sleeps: a writer goes as soon as the one before it commits, in this process or another one; a gate
held past the busy timeout is the same busy error ("database is locked", a 503 at the API) as before."""
from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from sqlalchemy import text

from canceldesk.adapters.db import is_busy, make_engine


@pytest.fixture()
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path}/gate.db", busy_timeout_seconds=1)
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    yield eng, f"{tmp_path}/gate.db"
    eng.dispose()


def test_writers_of_one_process_take_turns_without_a_busy_error(engine):
    eng, _ = engine
    order: list[str] = []
    first_in = threading.Event()

    def first():
        with eng.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('first')"))
            first_in.set()
            time.sleep(0.3)  # holds the write lock a while
            order.append("first")

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(5)
    started = time.monotonic()
    with eng.begin() as conn:  # waits in the gate, not in SQLite's busy handler
        conn.execute(text("INSERT INTO t (who) VALUES ('second')"))
        order.append("second")
    t.join()
    assert order == ["first", "second"]
    assert time.monotonic() - started < 0.9  # went as soon as the first committed
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2


def test_reads_do_not_wait_for_the_gate(engine):
    eng, _ = engine
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('writer')"))
        reader = eng.execution_options(canceldesk_readonly=True)
        with reader.connect() as other:
            assert other.execute(text("SELECT count(*) FROM t")).scalar_one() == 0  # its own snapshot


def test_a_gate_held_by_another_process_past_the_busy_timeout_is_busy_and_then_free(engine):
    eng, path = engine
    fd = os.open(path + "-writegate", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process's writer, mid-transaction
    try:
        with pytest.raises(Exception) as exc:
            with eng.begin() as conn:
                conn.execute(text("INSERT INTO t (who) VALUES ('late')"))
        assert is_busy(exc.value) and "database is locked" in str(exc.value)
    finally:
        os.close(fd)  # released (as the kernel does when that process dies)
    with eng.begin() as conn:  # the gate is free again: nothing leaked by the failed attempt
        conn.execute(text("INSERT INTO t (who) VALUES ('after')"))
    with eng.connect() as conn:
        assert conn.execute(text("SELECT who FROM t")).scalars().all() == ["after"]


def test_a_rolled_back_or_failed_transaction_gives_the_gate_back(engine):
    eng, _ = engine
    with pytest.raises(RuntimeError):
        with eng.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('x')"))
            raise RuntimeError("boom")
    with pytest.raises(Exception):
        with eng.begin() as conn:
            conn.execute(text("INSERT INTO nope (who) VALUES ('x')"))
    conn = eng.connect()
    conn.begin()
    conn.execute(text("INSERT INTO t (who) VALUES ('abandoned')"))
    conn.close()  # handed back mid-transaction: the pool rolls it back
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('ok')"))
    with eng.connect() as conn:
        assert conn.execute(text("SELECT who FROM t")).scalars().all() == ["ok"]
