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

import json
from operator import itemgetter

from sqlalchemy import JSON, Date, DateTime, String, and_, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

COPY_FROM = 20  # fewer rows: one executemany costs less than opening a COPY
_PLANS: dict = {}


def insert_rows(s, table, rows: list[dict], conn=None) -> None:
    """INSERT `rows` (dicts with the same keys) into `table` through the session `s` (or, `s` None, the
    connection `conn`)."""
    if not rows:
        return
    conn = conn if s is None else s.connection()
    if len(rows) < COPY_FROM or conn.dialect.name != "postgresql" or not _copy(s, table, rows, conn):
        executemany(conn, ("insert", table), lambda: insert(table), rows)


def update_rows(conn, table, keys: tuple[str, ...], rows: list[dict], guard: tuple[str, str] | None = None) -> int:
    """UPDATE the rows of `table` whose `keys` columns equal each row's values, setting the row's other
    columns (dicts with the same keys); the number of rows updated. `guard` (column, name): only where
    that column still holds the row's value under `name` (an optimistic version check; `name` is not a
    column). PostgreSQL: one UPDATE … FROM unnest(one binary array per column) (psycopg would pipeline
    one statement per row, each parsed and run by the server); elsewhere, or for one row, one executemany."""
    if not rows:
        return 0
    names = tuple(rows[0])
    column = dict(zip(names, names))
    if guard is not None:
        column[guard[1]] = guard[0]
    sets = tuple(n for n in names if n not in keys and (guard is None or n != guard[1]))
    if conn.dialect.name != "postgresql" or len(rows) == 1 or any(len(r) != len(names) for r in rows):
        where = [table.c[k] == bindparam(f"k_{k}") for k in keys]
        if guard is not None:
            where.append(table.c[guard[0]] == bindparam(f"k_{guard[1]}"))
        bound = set(keys) | ({guard[1]} if guard else set())
        return executemany(conn, ("update", table, keys, sets, guard), lambda: update(table).where(
            and_(*where)).values({n: bindparam(n) for n in sets}),
            [{(f"k_{k}" if k in bound else k): v for k, v in r.items()} for r in rows]).rowcount
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    table_name = dialect.identifier_preparer.format_table(table)
    cols = [table.c[column[n]] for n in names]
    procs = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in cols]
    # each column's values as one array: text as TEXT[] (a VARCHAR(n)[] cast would truncate silently;
    # assigning TEXT to the column checks its length as a plain UPDATE does), JSON as its text
    casts = []
    for c in cols:
        affinity = getattr(c.type, "_type_affinity", None)
        casts.append("TEXT" if affinity in (String, JSON) else c.type.compile(dialect=dialect))
    where = [f"{table_name}.{quote(k)} = v.{quote(k)}" for k in keys]
    if guard is not None:
        where.append(f"{table_name}.{quote(guard[0])} = v.{quote(guard[1])}")
    sql = (f"UPDATE {table_name} SET "
           + ", ".join(f"{quote(n)} = v.{quote(n)}" + ("::JSON" if cast == "TEXT" and _is_json(c) else "")
                       for n, c, cast in zip(names, cols, casts) if n in sets)
           + " FROM unnest(" + ", ".join(f"%b::{cast}[]" for cast in casts) + ") AS v ("
           + ", ".join(quote(n) for n in names) + ") WHERE " + " AND ".join(where))
    columns = []
    for n, c, p in zip(names, cols, procs):
        values = [r[n] for r in rows]
        if p is not None:
            values = [p(v) for v in values]
        if _is_json(c):  # the driver's JSON wrapper, serialised as the driver would
            values = [_json_text(w) for w in values]
        columns.append(values)
    return conn.exec_driver_sql(sql, tuple(columns)).rowcount


def _json_text(w):
    if w is None or isinstance(w, str):
        return w
    obj, dumps = (w.obj, w.dumps) if hasattr(w, "obj") else (w, None)
    return (dumps or _json_dumps())(obj)


def _json_dumps():
    from psycopg.types.json import JsonDumper
    return JsonDumper._dumps


def _is_json(col) -> bool:
    return getattr(col.type, "_type_affinity", None) is JSON


def among(s, col, values):
    """`col IN (values)` for a group's many keys, with the values as one parameter: PostgreSQL
    `col = ANY(:array)`, SQLite `col IN (SELECT value FROM json_each(:json))` (both search the column's
    index). An expanded IN renders, casts and processes one parameter per value on every execution."""
    values = list(values)
    name = (s.dialect if hasattr(s, "dialect") else s.get_bind().dialect).name  # a connection, or a session
    if name == "postgresql":
        return col == any_(bindparam(None, values, type_=ARRAY(col.type)))
    if name == "sqlite" and all(type(v) is str for v in values):
        return col.in_(select(func.json_each(bindparam(None, json.dumps(values))).table_valued("value").c.value))
    return col.in_(values)


def among_bind(col, dialect: str, name: str = "keys"):
    """`among` with its values left to the parameter `name`, for a statement built once
    (adapters/engine_statements.py): run it with {name: among_values(dialect, values)}. The values are text
    (ids, numbers, codes): on SQLite they travel as one JSON array."""
    if dialect == "postgresql":
        return col == any_(bindparam(name, type_=ARRAY(col.type)))
    return col.in_(select(func.json_each(bindparam(name, type_=String())).table_valued("value").c.value))


def among_values(dialect: str, values):
    """The parameter of an `among_bind` for `values` (text).

    PostgreSQL: a list. Tried and not kept: the array's literal text (one string, every element quoted), which
    spares psycopg's per-element quoting check (a regular expression, ~10% of engine.drain's instructions on
    PostgreSQL, callgrind) but made the engine's lanes 2-3x slower in wall-clock time (not understood yet)."""
    values = list(values)
    if dialect == "postgresql":
        return values
    if not all(type(v) is str for v in values):
        raise TypeError("among_bind takes text keys")
    return json.dumps(values)


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


def executemany(conn, key, make, rows: list[dict]):
    """Execute the statement `make()` (cached under `key`) once per row of `rows` (dicts with the same
    keys) on the connection `conn`: one executemany, the rows' values processed as SQLAlchemy would.
    Returns the driver's result (its rowcount: the rows changed); None for no rows."""
    if not rows:
        return None
    keys = tuple(rows[0])
    plan = _plan(conn, key, make, keys)
    n, cols = len(rows), []
    if plan is None or (n > 1 and len(set(map(len, rows))) != 1):
        return conn.execute(make(), rows)  # rows with different keys: SQLAlchemy's own path says what is missing
    sqlite = conn.dialect.name == "sqlite"
    for name, proc, memo in zip(plan.names, plan.procs, plan.memo):
        try:
            values = list(map(itemgetter(name), rows)) if name not in plan.defaults else [plan.defaults[name]] * n
        except KeyError:
            return conn.execute(make(), rows)
        if proc is not None:
            values = _processed(values, proc, memo)
        elif sqlite:
            values = _exact_text(values)
        cols.append(values)
    params = list(zip(*cols))
    if not plan.positional:
        params = [dict(zip(plan.keys, p)) for p in params]
    # one row (a small group's round): executed as one statement, compiled once all the same
    return conn.exec_driver_sql(plan.sql, params[0] if n == 1 else params)


_EXACT = {str, int, float, bytes, type(None)}


def _exact_text(values: list) -> list:
    """Text of str subclasses (the domain's StrEnum statuses and steps) as plain str: sqlite3 binds a str
    directly but looks a subclass up in its adapters first (~2 µs a value, 4x a plain str's bind)."""
    if set(map(type, values)) <= _EXACT:
        return values
    return [str.__str__(v) if isinstance(v, str) and type(v) is not str else v for v in values]


def _processed(values: list, proc, memo: bool) -> list:
    """`proc` applied to each value; `memo`: once per distinct value (a date or time column)."""
    if not memo:
        return list(map(proc, values))
    seen = {v: proc(v) for v in set(values)}
    return list(map(seen.__getitem__, values))


def _copy(s, table, rows: list[dict], conn) -> bool:
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
    if s is not None:
        s.flush()  # what the ORM holds goes first, as an executed INSERT would autoflush it
    dialect = conn.dialect
    names = keys + list(defaults)
    procs = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    memo = [_memoizable(table.c[n].type) and p is not None for n, p in zip(names, procs)]
    quote = dialect.identifier_preparer
    sql = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    raw = conn.connection.driver_connection
    n, columns = len(rows), []
    for name, proc, m in zip(names, procs, memo):  # column by column, as executemany does
        values = [r[name] for r in rows] if name in first else [defaults[name]] * n
        if proc is not None:
            values = _processed(values, proc, m)
        if m:  # a date or time as the text COPY would write (psycopg's text dumper: str), once per value
            seen = {v: None if v is None else str(v) for v in set(values)}
            values = list(map(seen.__getitem__, values))
        elif _is_json(table.c[name]):  # the driver's JSON wrapper, serialised as the driver would
            values = [_json_text(w) for w in values]
        columns.append(values)
    try:
        with raw.cursor() as cur, cur.copy(sql) as copy:
            for row in zip(*columns):
                copy.write_row(row)
    except raw.Error as exc:
        raise DBAPIError.instance(sql, None, exc, type(raw).Error) from exc
    return True
