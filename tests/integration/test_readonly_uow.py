"""Read-only units of work on SQLite begin deferred: a subscriber's pre-check reads while another process
holds the write lock, instead of queueing behind it (the HTTP path's reads no longer serialise with writes)."""
from __future__ import annotations

import sqlite3

import pytest

from canceldesk.service_layer.principal import Principal
from canceldesk.service_layer import requests
from web_support import demo_container


@pytest.fixture()
def world(tmp_path):
    c = demo_container(tmp_path / "ro.db", db_busy_timeout_seconds=1)
    yield c, str(tmp_path / "ro.db")
    c.dispose()


def _hold_write_lock(path: str) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process's writer, mid-transaction
    other.execute("UPDATE lines SET version = version WHERE msisdn = '13800138000'")
    return other


def test_a_subscribers_precheck_reads_while_another_writer_holds_the_lock(world):
    c, path = world
    other = _hold_write_lock(path)
    try:
        me = Principal(kind="subscriber", id="C001", login_msisdn="13800138000")
        result = requests.precheck(c, me, "unsubscribe", "13800138000", "S-13800138000-VAS-CRBT")
        assert result.eligible is True
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_write_unit_of_work_still_waits_for_the_lock_and_says_busy(world):
    c, path = world
    other = _hold_write_lock(path)
    try:
        with pytest.raises(Exception) as exc:
            with c.uow() as uow:
                uow.session.connection()  # BEGIN IMMEDIATE: waits the 1 s busy timeout, then gives up
        assert "database is locked" in str(exc.value)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_read_only_unit_of_work_refuses_to_commit_a_write(world):
    c, _ = world
    with c.uow(readonly=True) as uow:
        line = uow.repo.line("13800138000")
        line.cash_balance += 1
        with pytest.raises(RuntimeError, match="read-only unit of work was asked to write"):
            uow.commit()
    with c.uow(readonly=True) as uow:
        assert uow.repo.line("13800138000").cash_balance == line.cash_balance - 1
