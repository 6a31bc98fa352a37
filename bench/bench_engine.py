"""Engine: accepted unsubscribes completed per second by one process's engine (service_layer/engine.py:
lanes that claim groups, advance each group in one transaction and keep downstream calls in flight),
against a ceiling measured in the same run on the same database: the rows those cancellations wrote —
every row inserted, updated or deleted, with its real values — replayed into copies of the real tables (same
columns, keys and indexes) as plain executemany statements in the same number of transactions the engine
committed. (Until 2026-12-02 the ceiling was the same number of 2-column rows into one bare table: cheaper
rows than the engine writes, and no updates, so it overstated what plain statements achieve.)

Runs: engine_completed_cancellations_sqlite / _postgresql (simulators at zero latency) and
engine_completed_latency200_sqlite (every simulated downstream call takes 100–300 ms, mean 200 ms).
The requests are accepted unsubscribes (status `executing`, as `confirm` leaves them) of an immediate,
prorated VAS: settle, refund (a payments call), end, receipt, `completed` notice in the outbox. Creating
and confirming them (one HTTP call each) is measured by the http benchmark, not here.
Environment: BENCH_ENGINE_N (default 5000), BENCH_LATENCY_N (default 3000), BENCH_PROFILE=1 writes a
pyinstrument profile of the SQLite run to bench/results/engine-profile.txt.
"""
from __future__ import annotations

import os
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import (Column, Index, MetaData, Table, UniqueConstraint, and_, bindparam, delete, event, insert,
                        select, update)

from canceldesk.adapters import orm
from canceldesk.adapters.downstream import sim_calls
from canceldesk.service_layer.engine import Engine, drain

from common import PG_URL, Timer, accepted_unsubscribes, completed, fresh_container, seed_lines

N = int(os.environ.get("BENCH_ENGINE_N", "5000"))
LATENCY_N = int(os.environ.get("BENCH_LATENCY_N", "3000"))


CPU = {"seconds": 0.0}  # this process's CPU time during the last engine run (all its threads)


def _run_engine(c, ids: list[str], timeout: float) -> tuple[int, float, int, int]:
    """(completed, seconds, commits, snapshot of the written tables before the run) for the engine draining `ids`."""
    commits = [0]

    def count(_conn):
        commits[0] += 1
    event.listen(c.engine, "commit", count)
    before = _snapshot(c)
    engine = Engine(c)
    if os.environ.get("BENCH_PROFILE") and c.engine.dialect.name == "sqlite" and not c.settings.sim_latency_ms:
        return _profiled(c, ids, commits, before)
    t0, cpu0 = time.perf_counter(), time.process_time()
    engine.start()
    try:
        while True:
            done = completed(c, ids)
            if done == len(ids) or time.perf_counter() - t0 > timeout:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        CPU["seconds"] = time.process_time() - cpu0
    finally:
        engine.stop()
    event.remove(c.engine, "commit", count)
    return done, seconds, commits[0], before


def _profiled(c, ids, commits, before):
    """One lane in this thread under pyinstrument (the lanes' threads are not sampled)."""
    from pyinstrument import Profiler
    profile = Profiler(async_mode="disabled")
    t0 = time.perf_counter()
    profile.start()
    drain(c)
    profile.stop()
    seconds = time.perf_counter() - t0
    Path("bench/results").mkdir(exist_ok=True)
    Path("bench/results/engine-profile.txt").write_text(profile.output_text(unicode=False, color=False))
    return completed(c, ids), seconds, commits[0], before


WRITTEN = ("request_events", "execution_steps", "ledger_entries", "payments", "receipts", "outbox", "audit_log",
           "execution_leases")
CHANGED = ("requests", "subscriptions", "lines")  # rows the engine updates in place


def _tables():
    return [orm.metadata.tables[t] for t in WRITTEN + CHANGED] + [sim_calls]


def _snapshot(c) -> dict:
    """Every row of the tables the engine writes, by primary key (taken before and after the run)."""
    snap = {}
    with c.engine.connect() as conn:
        for t in _tables():
            pk = [col.name for col in t.primary_key] or [col.name for col in t.columns]
            snap[t.name] = {tuple(r[k] for k in pk): r for r in (dict(m) for m in conn.execute(select(t)).mappings())}
    return snap


def _changes(before: dict, after: dict) -> dict:
    """table -> (inserted rows, updated rows, deleted keys): the net writes of the run."""
    out = {}
    for name, rows in after.items():
        old = before[name]
        ins = [r for k, r in rows.items() if k not in old]
        upd = [r for k, r in rows.items() if k in old and old[k] != r]
        dele = [k for k in old if k not in rows]
        out[name] = (ins, upd, dele)
    return out


def _clone(t: Table, md: MetaData) -> Table:
    """Same columns, types, primary key, unique constraints and indexes; no foreign keys; new names."""
    name = f"bench_raw_{t.name}"
    cols = [Column(col.name, col.type, primary_key=col.primary_key, nullable=col.nullable, autoincrement=False)
            for col in t.columns]
    clone = Table(name, md, *cols)
    for i, uc in enumerate(x for x in t.constraints if isinstance(x, UniqueConstraint)):
        clone.append_constraint(UniqueConstraint(*[clone.c[col.name] for col in uc.columns], name=f"{name}_uq{i}"))
    for i, ix in enumerate(t.indexes):
        Index(f"{name}_ix{i}", *[clone.c[col.name] for col in ix.columns], unique=ix.unique)
    return clone


def _ceiling(c, n: int, commits: int, before: dict) -> tuple[float, int]:
    """The run's net writes — every row it inserted, updated or deleted, with their real values, into copies of
    the real tables (same columns, types, keys and indexes) — replayed as plain executemany INSERT / UPDATE /
    DELETE statements spread evenly over the same number of transactions the engine committed.
    (completions/s, row writes)."""
    changes = _changes(before, _snapshot(c))
    md = MetaData()
    clones = {t.name: _clone(t, md) for t in _tables()}
    md.drop_all(c.engine)
    md.create_all(c.engine)
    ops = []  # (table name, op, row)
    with c.engine.begin() as conn:  # rows that are updated or deleted exist beforehand, as they did for the engine
        for name, (_ins, upd, dele) in changes.items():
            pk = [col.name for col in clones[name].primary_key]
            pre = [before[name][tuple(r[k] for k in pk)] for r in upd] + [before[name][k] for k in dele]
            if pre:
                conn.execute(insert(clones[name]), pre)
    for name, (ins, upd, dele) in changes.items():
        pk = [col.name for col in clones[name].primary_key]
        ops += [(name, "insert", r) for r in ins] + [(name, "update", r) for r in upd]
        ops += [(name, "delete", dict(zip(pk, k))) for k in dele]
    statements = {}
    for name, t in clones.items():
        pk = [col.name for col in t.primary_key]
        where = and_(*[t.c[k] == bindparam(f"b_{k}") for k in pk])
        statements[(name, "insert")] = insert(t)
        statements[(name, "update")] = update(t).where(where).values(
            {col.name: bindparam(f"b_{col.name}") for col in t.columns if col.name not in pk})
        statements[(name, "delete")] = delete(t).where(where)
    per = -(-len(ops) // max(1, commits))
    with Timer() as tm:
        for k in range(0, len(ops), per):
            groups: dict = {}
            for name, op, row in ops[k:k + per]:
                groups.setdefault((name, op), []).append(row if op == "insert" else {f"b_{c_}": v for c_, v in row.items()})
            with c.engine.begin() as conn:
                for key, rows in groups.items():
                    conn.execute(statements[key], rows)
    md.drop_all(c.engine)
    return n / tm.seconds, len(ops)


def _one(results: list, label: str, url: str, n: int, latency_ms: int = 0) -> None:
    c = fresh_container(url, sim_latency_ms=latency_ms)
    c.enqueue_delivery = lambda: None  # notices are written to the outbox; a worker's deliverer sends them (not timed)
    try:
        pairs = seed_lines(c, n, date.today())
        ids = accepted_unsubscribes(c, pairs)
        done, seconds, commits, before = _run_engine(c, ids, timeout=300)
        rate = done / seconds
        ceiling, rows = _ceiling(c, done, commits, before)
        name = f"engine_completed_latency{latency_ms}_{label}" if latency_ms else f"engine_completed_cancellations_{label}"
        target = ">= 300/s" if latency_ms else ">= 1000/s and ratio >= 0.25"
        results.append({
            "name": name, "unit": "requests/s", "value": round(rate, 1), "baseline": round(ceiling, 1),
            "ratio": round(rate / ceiling, 3), "cpu_ms_per_request": round(1000 * CPU["seconds"] / max(1, done), 2),
            "notes": f"{done} of {n} accepted unsubscribes completed in {seconds:.1f}s by one process's engine "
                     f"(lanes x group commit, downstream calls on a pool), simulators at {latency_ms} ms; "
                     f"{commits} commits, {rows} row writes ({rows / max(1, done):.1f} per request: inserts, updates, "
                     f"deletes) — baseline = those same rows with their real values replayed into copies of the real "
                     f"tables (same columns, keys, indexes) as plain executemany INSERT/UPDATE/DELETE statements "
                     f"in {commits} transactions on the same {label} database. Target {target}. {os.cpu_count()} CPUs, machine shared with other jobs"})
    finally:
        c.dispose()


def run(results: list, n: int = N) -> None:
    with tempfile.TemporaryDirectory() as d:
        _one(results, "sqlite", f"sqlite:///{d}/engine.db", n)
        _one(results, "postgresql", PG_URL, n)
        _one(results, "sqlite", f"sqlite:///{d}/latency.db", LATENCY_N, latency_ms=200)


if __name__ == "__main__":
    out: list = []
    run(out, int(os.environ.get("BENCH_ENGINE_N", "1000")))
    for r in out:
        print(r)
