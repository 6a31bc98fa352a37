"""Many rows into one table, in the caller's transaction: one executemany, or COPY on PostgreSQL.

psycopg 3 sends an executemany as one pipelined statement per row, ~40 µs of Python each; the
engine's group commit writes ~15 rows per request (step records, timeline entries, ledger lines,
payment, receipt, notice), so on PostgreSQL those rows go through COPY instead: the same values,
processed by the same column types (UTC datetimes, JSON, encrypted text), the columns' scalar
defaults filled in as an INSERT would, and the driver's errors raised as SQLAlchemy's (a unique
key or a lock: IntegrityError / OperationalError, which the stores turn into "not now").
A table whose missing columns have computed defaults, or rows with different keys, fall back
to the executemany.

`executemany` is the executemany itself without SQLAlchemy's per-row work: the statement is compiled
once per (statement, dialect, keys), each column's values go through the column type's bind processor
as SQLAlchemy would pass them (a date or time value once per distinct value: a group's rows share its
clock reading), and the driver gets the rows as the same tuples or dicts (the engine's events fire).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, insert
from sqlalchemy.exc import DBAPIError

COPY_FROM = 20  # fewer rows: one executemany costs less than opening a COPY
_PLANS: dict = {}


def insert_rows(s, table, rows: list[dict]) -> None:
    """INSERT `rows` (dicts with the same keys) into `table` through the session `s`."""
    if not rows:
        return
    if len(rows) < COPY_FROM or s.get_bind().dialect.name != "postgresql" or not _copy(s, table, rows):
        executemany(s.connection(), ("insert", table), lambda: insert(table), rows)


class _Plan:
    __slots__ = ("sql", "names", "keys", "procs", "memo", "defaults", "positional")


def _memoizable(type_) -> bool:
    """A date or time column's processor is a pure function of the value: safe to run once per value."""
    return getattr(type_, "_type_affinity", None) in (DateTime, Date)


def _plan(conn, key, make, keys: tuple) -> _Plan | None:
    dialect = conn.dialect
    ident = (key, dialect.name, keys)
    plan = _PLANS.get(ident)
    if plan is None and ident not in _PLANS:
        compiled = make().compile(dialect=dialect, column_keys=list(keys))
        defaults = {}
        ok = not (compiled.literal_execute_params or compiled.post_compile_params or compiled.update_prefetch)
        for col in compiled.insert_prefetch if ok else ():
            if col.default is None or not col.default.is_scalar:
                ok = False
                break
            defaults[col.key] = col.default.arg
        if ok:
            plan = _Plan()
            names = list(compiled.positiontup) if compiled.positional else list(compiled.bind_names.values())
            binds = {name: bp for bp, name in compiled.bind_names.items()}
            procs = compiled._bind_processors
            plan.sql, plan.positional, plan.defaults = compiled.string, compiled.positional, defaults
            plan.names = names
            plan.keys = [compiled.escaped_bind_names.get(n, n) for n in names]
            plan.procs = [procs.get(n) for n in names]
            plan.memo = [_memoizable(binds[n].type) for n in names]
            if any(n not in keys and n not in defaults for n in names):
                plan = None  # a bind the rows do not carry: SQLAlchemy's own path says what is missing
        _PLANS[ident] = plan
    return plan


def executemany(conn, key, make, rows: list[dict]) -> None:
    """Execute the statement `make()` (cached under `key`) once per row of `rows` (dicts with the same
    keys) on the connection `conn`: one executemany, the rows' values processed as SQLAlchemy would."""
    if not rows:
        return
    keys = tuple(rows[0])
    plan = _plan(conn, key, make, keys)
    if plan is None or len(rows) == 1:
        conn.execute(make(), rows)
        return
    n, cols = len(rows), []
    if any(len(r) != len(keys) for r in rows):
        conn.execute(make(), rows)  # rows with different keys: SQLAlchemy's own path says what is missing
        return
    for name, proc, memo in zip(plan.names, plan.procs, plan.memo):
        try:
            values = [r[name] for r in rows] if name not in plan.defaults else [plan.defaults[name]] * n
        except KeyError:
            conn.execute(make(), rows)
            return
        if proc is not None:
            if memo:
                seen: dict = {}
                out = []
                for v in values:
                    p = seen.get(v, seen)
                    if p is seen:
                        p = seen[v] = proc(v)
                    out.append(p)
                values = out
            else:
                values = [proc(v) for v in values]
        cols.append(values)
    params = list(zip(*cols))
    if not plan.positional:
        params = [dict(zip(plan.keys, p)) for p in params]
    conn.exec_driver_sql(plan.sql, params)


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
    memo = [_memoizable(table.c[n].type) and p is not None for n, p in zip(names, procs)]
    extra = list(defaults.values())
    quote = dialect.identifier_preparer
    sql = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    raw = conn.connection.driver_connection
    seen: list[dict] = [{} for _ in names]
    try:
        with raw.cursor() as cur, cur.copy(sql) as copy:
            for r in rows:
                values = [r[k] for k in keys] + extra
                out = []
                for p, m, cache, v in zip(procs, memo, seen, values):
                    if p is None:
                        out.append(v)
                    elif m and type(v) in (datetime, date):
                        w = cache.get(v)
                        if w is None:
                            w = cache[v] = p(v)
                        out.append(w)
                    else:
                        out.append(p(v))
                copy.write_row(out)
    except raw.Error as exc:
        raise DBAPIError.instance(sql, None, exc, type(raw).Error) from exc
    return True
