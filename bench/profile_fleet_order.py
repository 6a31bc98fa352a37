"""The fleet order's CPU per item, in one process (no HTTP, no Redis, no worker processes): seed N lines,
POST a TMF622 order of N `delete` items through the service layer (`create_from_json` + `created_stream`),
run its slices (intake: create + confirm, set-based) and drain the engine (the sagas), then refresh the
order to its final state. Per phase: this process's CPU (time.process_time) per item, and the CPU of the
PostgreSQL backends of the database (/proc, the server on this machine), wall time and SQL statements.
On a shared machine these figures, unlike items/s, do not move much with the load.

    CANCELDESK_BENCH_PG_URL=... python bench/profile_fleet_order.py [N]     # default 4000
    BENCH_PROFILE=intake|engine|post  -> cProfile of that phase (top 40 by tottime, to stderr)
    BENCH_LATENCY_MS=200              -> simulators answer in 100-300 ms (the overlap of calls)
"""
from __future__ import annotations

import cProfile
import json
import os
import pstats
import sys
import time

from sqlalchemy import event

from canceldesk.service_layer import partner_keys, product_orders
from canceldesk.service_layer.engine import drain

import bench_fleet_order as fo
from common import PG_URL, fresh_container


class _Lanes:  # the worker's engine lanes: intake only nudges them; this script drains itself
    def nudge(self) -> None:
        pass


def _backend_cpu(c) -> float:
    with c.engine.connect() as conn:
        pids = conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                    " AND backend_type = 'client backend'").scalars().all()
    return sum(fo._cpu_seconds(p) or 0.0 for p in pids)


def phase(c, name: str, n: int, fn, out: dict, statements: list):
    """Run fn, recording CPU (own, PG backends), wall time and statements per item."""
    prof = cProfile.Profile(time.thread_time) if os.environ.get("BENCH_PROFILE") == name else None
    pg0, cpu0, t0, s0 = _backend_cpu(c), time.process_time(), time.perf_counter(), statements[0]
    if prof:
        prof.enable()
    result = fn()
    if prof:
        prof.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    pg = _backend_cpu(c) - pg0
    out[name] = {"cpu_ms_per_item": round(cpu * 1000 / n, 3), "pg_ms_per_item": round(pg * 1000 / n, 3),
                 "wall_s": round(wall, 2), "statements_per_item": round((statements[0] - s0) / n, 2)}
    if prof:
        pstats.Stats(prof, stream=sys.stderr).sort_stats(os.environ.get("BENCH_SORT", "tottime")).print_stats(int(os.environ.get("BENCH_TOP", "40")))
    return result


THREAD_CPU = {"calls": 0.0, "call_log_writes": 0.0}


def _count_thread_cpu() -> None:
    """CPU of the downstream calls on their pool threads (call_downstream, the simulators included),
    and of the simulators' call-log writer, by wrapping both (time.thread_time)."""
    from canceldesk.adapters import downstream
    from canceldesk.service_layer import executor

    def timed(fn, key):
        def wrapper(*a, **kw):
            t0 = time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                THREAD_CPU[key] += time.thread_time() - t0
        return wrapper
    executor.call_downstream = timed(executor.call_downstream, "calls")
    downstream._Writer.write = timed(downstream._Writer.write, "call_log_writes")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    latency = int(os.environ.get("BENCH_LATENCY_MS", "0"))
    c = fresh_container(PG_URL, queue_url="none", sim_failure_rate=0.0, sim_latency_ms=latency)
    c.engine_lanes = _Lanes()
    numbers = fo._seed(c, n)
    key = partner_keys.issue(c, fo.ENTERPRISE, "bench", "bench")["key"]
    principal = partner_keys.authenticate(c, key)
    body = fo._body(numbers)
    del numbers
    statements = [0]

    def count(*_a):
        statements[0] += 1
    event.listen(c.engine, "before_cursor_execute", count)
    out: dict = {"items": n, "latency_ms": latency}

    def post():
        order_id = product_orders.create_from_json(c, principal, bytearray(body))
        sum(len(p) for p in product_orders.created_stream(c, principal, order_id))
        return order_id
    order_id = phase(c, "post", n, post, out, statements)

    def intake():
        todo = product_orders.first_slices(c, order_id)
        while todo:
            nxt = product_orders.process_slice(c, order_id, *todo.pop(0))
            if nxt:
                todo.append(nxt)
    phase(c, "intake", n, intake, out, statements)
    _count_thread_cpu()
    phase(c, "engine", n, lambda: drain(c), out, statements)
    out["engine"].update({f"{k}_cpu_ms_per_item": round(v * 1000 / n, 3) for k, v in THREAD_CPU.items()})
    out["state"] = phase(c, "refresh", n, lambda: product_orders.refresh(c, order_id), out, statements)
    out["total_worker_cpu_ms_per_item"] = round(sum(out[k]["cpu_ms_per_item"] for k in ("intake", "engine", "refresh")), 3)
    out["total_pg_ms_per_item"] = round(sum(out[k]["pg_ms_per_item"] for k in ("intake", "engine", "refresh")), 3)
    print(json.dumps(out, indent=1))
    c.dispose()


if __name__ == "__main__":
    main()
