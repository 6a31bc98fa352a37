"""Many rows into one table, in the caller's transaction: one executemany, or COPY on PostgreSQL.

psycopg 3 sends an executemany as one pipelined statement per row, ~40 µs of Python each; the
engine's group commit writes ~15 rows per request (step records, timeline entries, ledger lines,
payment, receipt, notice), so on PostgreSQL those rows go through COPY instead: the same values,
processed by the same column types (UTC datetimes, JSON, encrypted text), the columns' scalar
defaults filled in as an INSERT would, and the driver's errors raised as SQLAlchemy's (a unique
key or a lock: IntegrityError / OperationalError, which the stores turn into "not now").
A table whose missing columns have computed defaults, or rows with different keys, fall back
to the executemany.
"""
from __future__ import annotations

from sqlalchemy import any_, bindparam, insert
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

COPY_FROM = 20  # fewer rows: one executemany costs less than opening a COPY


def insert_rows(s, table, rows: list[dict]) -> None:
    """INSERT `rows` (dicts with the same keys) into `table` through the session `s`."""
    if not rows:
        return
    if len(rows) < COPY_FROM or s.get_bind().dialect.name != "postgresql" or not _copy(s, table, rows):
        s.execute(insert(table), rows)


def _copy(s, table, rows: list[dict]) -> bool:
    first = rows[0].keys()
    keys = list(first)
    if any(r.keys() != first for r in rows) or any(k not in table.c for k in keys):
        return False
    defaults = {}
    for col in table.columns:
        if col.name in rows[0] or col.default is None:
            continue
        if not col.default.is_scalar:
            return False
        defaults[col.name] = col.default.arg
    s.flush()  # what the ORM holds goes first, as an executed INSERT would autoflush it
    conn = s.connection()
    dialect = conn.dialect
    names = keys + list(defaults)
    procs = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    extra = list(defaults.values())
    quote = dialect.identifier_preparer
    sql = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    raw = conn.connection.driver_connection
    try:
        with raw.cursor() as cur, cur.copy(sql) as copy:
            for r in rows:
                values = [r[k] for k in keys] + extra
                copy.write_row([v if p is None else p(v) for p, v in zip(procs, values)])
    except raw.Error as exc:
        raise DBAPIError.instance(sql, None, exc, type(raw).Error) from exc
    return True


def any_of(s, col, values):
    """`col IN values` for many values. On PostgreSQL `col = ANY(:array)`: one parameter, so the statement's
    text is the same for every group — SQLAlchemy's compiled cache and psycopg's query cache hold it —
    where an IN list of 200 ids was rendered, bound and re-parsed (psycopg caches no statement of more than
    50 parameters) on every execution: ~20% of the engine's CPU. Elsewhere the plain IN."""
    values = list(values)
    dialect = s.dialect if hasattr(s, "dialect") else s.get_bind().dialect  # a connection, or a session
    if dialect.name == "postgresql":
        return col == any_(bindparam(None, values, type_=ARRAY(col.type)))
    return col.in_(values)
