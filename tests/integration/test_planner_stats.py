"""A running order keeps PostgreSQL's statistics of the tables it loads current (adapters/planner_stats.py):
with autovacuum off (as on this machine) or behind a bulk load, a never-analyzed table's lookups by key are
planned as whole-table scans. The refresh analyzes what went stale, once, and only one process at a time."""
from __future__ import annotations

from datetime import date

from sqlalchemy import text

from canceldesk.adapters import planner_stats
from support import PG_URL, make_container, seed


def _analyzed(c) -> dict[str, float]:
    with c.engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE s.schemaname = current_schema() AND s.last_analyze IS NOT NULL")).all())


def test_a_bulk_loaded_table_is_analyzed_once_and_then_left_alone():
    c = make_container(PG_URL)
    try:
        seed(c, date(2026, 12, 4))
        with c.engine.begin() as conn:  # a fleet's worth of subscriptions, loaded as the seeding would
            conn.execute(text(
                "INSERT INTO subscriptions (id, msisdn, product_code, period_start, period_end, auto_renew, status, "
                "renewal_postponed) SELECT 'BULK-' || g, '18659101000', 'VAS-CRBT', DATE '2026-12-01', "
                "DATE '2026-12-31', false, 'active', false FROM generate_series(1, 3000) AS g"))
            conn.execute(text("SELECT pg_stat_force_next_flush()"))  # counted now, not within the second
        assert "subscriptions" not in _analyzed(c)
        with c.uow() as uow:
            first = uow.orders.keep_statistics()
            uow.commit()
        assert "subscriptions" in first
        assert _analyzed(c)["subscriptions"] >= 3000  # the planner now knows the table's size
        with c.uow() as uow:  # nothing changed since: nothing to do
            assert uow.orders.keep_statistics() == []
            uow.commit()
    finally:
        c.dispose()


def test_only_one_process_analyzes_at_a_time():
    c = make_container(PG_URL)
    try:
        seed(c, date(2026, 12, 4))
        with c.engine.begin() as holder:  # another process is analyzing (it holds the lock)
            holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": planner_stats._LOCK})
            with c.uow() as uow:
                assert uow.orders.keep_statistics() == []
                uow.commit()
    finally:
        c.dispose()


def test_sqlite_has_nothing_to_refresh(tmp_path):
    c = make_container(f"sqlite:///{tmp_path}/s.db")
    try:
        with c.uow() as uow:
            assert uow.orders.keep_statistics() == []
    finally:
        c.dispose()


def test_a_failed_refresh_is_logged_and_the_order_goes_on(tmp_path, monkeypatch, caplog):
    from sqlalchemy.exc import OperationalError

    from canceldesk.service_layer import batches

    def timed_out(session, tables=planner_stats.FLEET_TABLES):
        raise OperationalError("ANALYZE requests", {}, Exception("canceling statement due to statement timeout"))
    monkeypatch.setattr(planner_stats, "refresh", timed_out)
    c = make_container(f"sqlite:///{tmp_path}/s.db")
    try:
        batches.keep_statistics(c)  # no exception: statistics are an optimisation, never a reason to stop
    finally:
        c.dispose()
    assert [r.getMessage() for r in caplog.records if r.name == "canceldesk.batches"] == [
        "could not refresh the planner's statistics (OperationalError); going on"]
