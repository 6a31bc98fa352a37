"""SQLite writers of one process queue on one in-process lock (adapters/db.py), handed on only after COMMIT or
ROLLBACK has run: many threads writing at once all succeed, a failed transaction frees the lock, and a
writer in another process still meets SQLite's own lock."""
from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from canceldesk.adapters.db import make_engine


@pytest.fixture()
def engine(tmp_path):
    e = make_engine(f"sqlite:///{tmp_path}/w.db", busy_timeout_seconds=1)
    with e.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    yield e
    e.dispose()


def test_eight_threads_writing_at_once_all_commit(engine):
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(50):
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": f"{k}-{i}"})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 400


def test_a_failed_transaction_hands_the_lock_on(engine):
    with pytest.raises(ZeroDivisionError):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('lost')"))
            1 / 0  # the use case fails mid-transaction: rolled back
    with engine.begin() as conn:  # a leaked lock would refuse this writer ("database is locked") after 1 s
        conn.execute(text("INSERT INTO t (who) VALUES ('kept')"))
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT who FROM t"))] == ["kept"]


def test_another_processs_writer_still_holds_sqlite_s_own_lock(engine, tmp_path):
    other = sqlite3.connect(f"{tmp_path}/w.db", isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (who) VALUES ('x')"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    with engine.begin() as conn:  # and the in-process lock was not left held by the refused writer
        conn.execute(text("INSERT INTO t (who) VALUES ('after')"))
