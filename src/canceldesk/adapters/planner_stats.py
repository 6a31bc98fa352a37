"""PostgreSQL's statistics for the tables a large order loads, kept current while it loads them.

A fleet order writes its requests, their steps, leases, payments and receipts at ~1,000 rows a second.
The planner chooses between an index and a whole-table scan from the tables' statistics, which
autovacuum refreshes once a table has changed by 10% — checked once a minute (autovacuum_naptime), and
not at all where autovacuum is off. Meanwhile the statements that look rows up by key in bulk
(`= ANY(:keys)`) are planned as if each key matched 0.5% of a table of unknown size: measured on a
100,000-item order with autovacuum off, the engine's reads of steps, subscriptions and lines and the
intake's idempotency check became whole-table scans (20–250 ms each, growing with the tables).

`refresh` does what autovacuum's analyze would, sooner: it ANALYZEs each listed table whose rows changed
by more than half since its last analyze (or that was never analyzed), one process at a time. ANALYZE
samples at most 30,000 rows and blocks neither reads nor writes. PostgreSQL's documentation advises the
same after a bulk load ("Populating a Database": run ANALYZE afterwards). SQLite: nothing to do (its
planner reads no statistics unless asked to, and its lookups use the indexes as written)."""
from __future__ import annotations

from sqlalchemy import text

# the tables the fleet path reads by key, in bulk (the engine's rounds, the intake's checks)
FLEET_TABLES = ("requests", "execution_steps", "execution_leases", "subscriptions", "lines", "payments",
                "receipts", "batch_items")
SCALE = 0.5      # analyze once a table's changed rows since the last analyze exceed half its size …
FLOOR = 1000     # … plus this many (a small table's plans do not matter)
_LOCK = 0x5747A75  # one analyzer at a time (a transaction-level advisory lock: released at commit)

_STALE = text(
    "SELECT c.relname FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
    "WHERE s.schemaname = current_schema() AND c.relname = ANY(:tables) "
    "AND s.n_mod_since_analyze > :floor + :scale * greatest(c.reltuples, 0) ORDER BY c.relname")


def refresh(session, tables: tuple[str, ...] = FLEET_TABLES) -> list[str]:
    """ANALYZE the stale ones of `tables` in the session's transaction; returns their names (none when
    another process is analyzing, or on a database other than PostgreSQL)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return []
    if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK}).scalar():
        return []
    stale = list(conn.execute(_STALE, {"tables": list(tables), "floor": FLOOR, "scale": SCALE}).scalars())
    quote = conn.dialect.identifier_preparer.quote
    for name in stale:
        conn.execute(text(f"ANALYZE {quote(name)}"))
    return stale
