"""Engine: accepted unsubscribes completed per second by one process's engine (service_layer/engine.py:
lanes that claim groups, advance each group in one transaction and keep downstream calls in flight),
against a ceiling measured in the same run on the same database: the rows those cancellations wrote,
inserted with plain executemany statements in the same number of transactions the engine committed.

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

from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, insert, select

from canceldesk.adapters import orm
from canceldesk.adapters.downstream import sim_calls
from canceldesk.service_layer.engine import Engine, drain

from common import PG_URL, Timer, accepted_unsubscribes, completed, fresh_container, seed_lines

N = int(os.environ.get("BENCH_ENGINE_N", "5000"))
LATENCY_N = int(os.environ.get("BENCH_LATENCY_N", "3000"))
WRITTEN = ("request_events", "execution_steps", "ledger_entries", "payments", "receipts", "outbox", "audit_log",
           "execution_leases")


CPU = {"seconds": 0.0}  # this process's CPU time during the last engine run (all its threads)


def _rows(c) -> int:
    with c.engine.connect() as conn:
        n = sum(conn.execute(select(func.count()).select_from(orm.metadata.tables[t])).scalar() for t in WRITTEN)
        return n + conn.execute(select(func.count()).select_from(sim_calls)).scalar()


def _run_engine(c, ids: list[str], timeout: float) -> tuple[int, float, int, int]:
    """(completed, seconds, commits, rows inserted) for the engine draining `ids`."""
    commits = [0]

    def count(_conn):
        commits[0] += 1
    event.listen(c.engine, "commit", count)
    before = _rows(c)
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
    return done, seconds, commits[0], _rows(c) - before


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
    return completed(c, ids), seconds, commits[0], _rows(c) - before


def _ceiling(c, n: int, commits: int, rows: int) -> float:
    """The same number of rows, in the same number of committed transactions, as plain inserts."""
    md = MetaData()
    t = Table("bench_raw", md, Column("id", Integer, primary_key=True), Column("payload", String(200)))
    md.drop_all(c.engine)
    md.create_all(c.engine)
    per = max(1, rows // max(1, commits))
    payload = "x" * 120
    i = 0
    with Timer() as tm:
        for _ in range(commits):
            with c.engine.begin() as conn:
                conn.execute(insert(t), [{"id": i + k, "payload": payload} for k in range(per)])
            i += per
    md.drop_all(c.engine)
    return n / tm.seconds


def _one(results: list, label: str, url: str, n: int, latency_ms: int = 0) -> None:
    c = fresh_container(url, sim_latency_ms=latency_ms)
    c.enqueue_delivery = lambda: None  # notices are written to the outbox; a worker's deliverer sends them (not timed)
    try:
        pairs = seed_lines(c, n, date.today())
        ids = accepted_unsubscribes(c, pairs)
        done, seconds, commits, rows = _run_engine(c, ids, timeout=300)
        rate = done / seconds
        ceiling = _ceiling(c, done, commits, rows)
        name = f"engine_completed_latency{latency_ms}_{label}" if latency_ms else f"engine_completed_cancellations_{label}"
        target = ">= 300/s" if latency_ms else ">= 1000/s and ratio >= 0.25"
        results.append({
            "name": name, "unit": "requests/s", "value": round(rate, 1), "baseline": round(ceiling, 1),
            "ratio": round(rate / ceiling, 3), "cpu_ms_per_request": round(1000 * CPU["seconds"] / max(1, done), 2),
            "notes": f"{done} of {n} accepted unsubscribes completed in {seconds:.1f}s by one process's engine "
                     f"(lanes x group commit, downstream calls on a pool), simulators at {latency_ms} ms; "
                     f"{commits} commits, {rows} rows inserted ({rows / max(1, done):.1f} per request) — "
                     f"baseline = those rows as plain executemany inserts in {commits} transactions on the same "
                     f"{label} database. Target {target}. {os.cpu_count()} CPUs, machine shared with other jobs"})
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
