"""Fleet closure through the partner API: ONE TMF622 productOrder of 100,000 `delete` items (each a
close_line) from POST to the order's final state, with 2 `canceldesk worker` processes and one
`canceldesk serve` API process on PostgreSQL + Redis, against the ceiling of a raw COPY of the same
100,000 item rows into PostgreSQL in the same run. The bench process seeds the data and POSTs over
HTTP, so the API's peak RSS (VmHWM of its own process) is the POST's parse + intake + answer only.
Peak RSS of each process is read from the kernel (/proc/PID/status VmHWM) just before it is stopped.

    python bench/bench_fleet_order.py [--large]          # or: canceldesk bench --only fleet_order [--large]

Environment: CANCELDESK_BENCH_PG_URL, CANCELDESK_BENCH_REDIS_URL (default redis db 14 — flushed),
BENCH_FLEET_N (default 100000), BENCH_FLEET_LARGE_N (the items of `--large`, default 1000000: a
smaller one dry-runs the large path), BENCH_FLEET_SECONDS (time cap for the order to reach its final
state, default 240 per 100,000 items: past it the figure is the throughput reached and the
projected time), BENCH_WORKER_THREADS (per process, default 4), BENCH_FLEET_WORKERS (worker
processes, default 2; 0 measures the POST alone: the API's time and peak RSS), BENCH_LOG_DIR (write the
worker and API processes' output there: one .log each).
"""
from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timezone

from sqlalchemy import func, select, text, update

from canceldesk.adapters import orm
from canceldesk.service_layer import partner_keys

from common import PG_URL, Timer, fresh_container, seed_lines, stop_workers

REDIS_URL = os.environ.get("CANCELDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
THREADS = int(os.environ.get("BENCH_WORKER_THREADS", "4"))
WORKERS = int(os.environ.get("BENCH_FLEET_WORKERS", "2"))
TARGET_SECONDS, TARGET_RSS_MB = 120, 300
ENTERPRISE = "EBENCH"


def _n() -> int:
    if os.environ.get("BENCH_FLEET_LARGE") == "1":  # `--large` (here or `canceldesk bench --large`)
        return int(os.environ.get("BENCH_FLEET_LARGE_N", "1000000"))
    return int(os.environ.get("BENCH_FLEET_N", "100000"))


def _cap(n: int) -> float:
    return float(os.environ.get("BENCH_FLEET_SECONDS") or max(240.0, 240.0 * n / 100_000))


def _body(numbers: list[str]) -> bytes:
    """The order's JSON, item by item (a million items are never a list of a million dicts)."""
    items = ",".join(json.dumps({"id": str(i), "action": "delete", "product": {"id": m}})
                     for i, m in enumerate(numbers, start=1))
    return ('{"productOrderItem":[' + items + "]}").encode()


def _seed(c, n: int) -> list[str]:
    pairs = seed_lines(c, n, date.today(), prefix=1860000)
    with c.engine.begin() as conn:
        conn.execute(orm.customers.insert().values(id=ENTERPRISE, kind="enterprise", name="基准测试公司",
                                                   id_doc_type="cn_uscc", id_doc_number="91350100M000100Y43",
                                                   id_doc_digest=c.keyring.digest("91350100M000100Y43")))
        conn.execute(update(orm.lines).values(customer_id=ENTERPRISE))
    return [m for _, m in pairs]


def _copy_ceiling(c, numbers: list[str]) -> float:
    """The same item rows, written by one COPY: what the database alone can take in."""
    raw = c.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("CREATE TEMP TABLE copy_items (batch_id varchar(36), position int, msisdn varchar(11), "
                    "blockers json, warnings json, item_ref varchar(64), action varchar(8), item_kind varchar(20))")
        t0 = time.perf_counter()
        with cur.copy("COPY copy_items FROM STDIN") as copy:
            for i, n in enumerate(numbers, start=1):
                copy.write_row(("ceiling", i, n, "[]", "[]", str(i), "delete", "close_line"))
        raw.commit()
        return time.perf_counter() - t0
    finally:
        raw.close()


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANCELDESK_")}
    env.update(CANCELDESK_ENV="test", CANCELDESK_DATABASE_URL=PG_URL, CANCELDESK_QUEUE_URL=REDIS_URL,
               CANCELDESK_LOG_LEVEL="WARNING", CANCELDESK_SIM_FAILURE_RATE="0", CANCELDESK_SIM_LATENCY_MS="0")
    return env


def _log(name: str):
    """Where a process's output goes: nowhere, or BENCH_LOG_DIR/<name>.log (to read a run's warnings)."""
    folder = os.environ.get("BENCH_LOG_DIR")
    return open(os.path.join(folder, f"{name}.log"), "wb") if folder else subprocess.DEVNULL


def _start_workers(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-m", "canceldesk.cli", "worker", "--workers", str(THREADS)],
                             env=_env(), stdout=subprocess.DEVNULL, stderr=_log(f"worker_{i + 1}"))
            for i in range(count)]


def _start_api() -> tuple[subprocess.Popen, str]:
    """One `canceldesk serve` process (its own RSS), on a free local port; waits until it answers."""
    import httpx
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "canceldesk.cli", "serve", "--host", "127.0.0.1", "--port",
                             str(port)], env=_env(), stdout=subprocess.DEVNULL, stderr=_log("api"))
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the API process did not start")


def _post(base: str, key: str, body: bytes) -> str:
    """POST the order; the answer (every item, streamed by the API) is read and dropped; the order's
    id comes from the Location header."""
    import httpx
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    with httpx.Client(timeout=3600) as client:
        with client.stream("POST", f"{base}/tmf-api/productOrderingManagement/v4/productOrder", content=body,
                           headers=headers) as r:
            size = sum(len(chunk) for chunk in r.iter_raw())
            if r.status_code != 201:
                raise RuntimeError(f"POST answered {r.status_code} ({size} bytes)")
            return r.headers["location"].rsplit("/", 1)[1]


def _peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (/proc/PID/stat): on a shared machine, the figure
    that does not depend on what else runs (items/s does)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)
    except (OSError, IndexError, ValueError):
        return None


def _state(c, order_id: str) -> str:
    with c.engine.connect() as conn:
        return conn.execute(select(orm.product_orders.c.state).where(orm.product_orders.c.id == order_id)).scalar()


def _progress(c, order_id: str) -> tuple[str, int]:
    with c.engine.connect() as conn:
        state = conn.execute(select(orm.product_orders.c.state).where(orm.product_orders.c.id == order_id)).scalar()
        done = conn.execute(select(func.count()).select_from(orm.requests).where(
            orm.requests.c.batch_id == order_id, orm.requests.c.status.in_(("completed", "rejected", "failed")))).scalar()
    return state, done


def run(out: list) -> None:
    import redis
    n = _n()
    redis.Redis.from_url(REDIS_URL).flushdb()
    c = fresh_container(PG_URL, queue_url=REDIS_URL)
    numbers = _seed(c, n)
    copy_seconds = _copy_ceiling(c, numbers)
    key = partner_keys.issue(c, ENTERPRISE, "bench", "bench")["key"]
    body = _body(numbers)
    cap = _cap(n)
    del numbers
    api, base = _start_api()
    procs = _start_workers(WORKERS)
    time.sleep(3)  # the workers connect and start their consumers
    rss_api_idle = _peak_rss_mb(api.pid)
    try:
        with Timer() as post:
            order_id = _post(base, key, body)
        rss_api_post = _peak_rss_mb(api.pid)
        started = time.perf_counter() - post.seconds
        state, done = "acknowledged", 0
        while WORKERS and time.perf_counter() - started < cap:
            state = _state(c, order_id)  # the state only: counting the settled items is a scan of the order
            if state in ("completed", "partial", "failed", "cancelled"):
                break
            time.sleep(1.0)
        elapsed = time.perf_counter() - started
        state, done = _progress(c, order_id)
        rss = {f"worker_{i + 1}": _peak_rss_mb(p.pid) for i, p in enumerate(procs)}
        api_rss = _peak_rss_mb(api.pid)
        cpu = {"api": _cpu_seconds(api.pid), **{f"worker_{i + 1}": _cpu_seconds(p.pid) for i, p in enumerate(procs)}}
    finally:
        stop_workers(procs + [api], timeout=30)
    finished = state in ("completed", "partial", "failed")
    rate = done / elapsed if elapsed else 0.0
    ceiling_rate = n / copy_seconds
    worst_rss = max([v for v in rss.values() if v] + [api_rss or 0])
    met = finished and elapsed <= TARGET_SECONDS and worst_rss <= TARGET_RSS_MB
    if n != 100_000:  # the time target is the 100,000-item order's; a --large run is held to memory alone
        target = (f"peak RSS <= {TARGET_RSS_MB} MB per process — {'met' if worst_rss <= TARGET_RSS_MB else 'NOT met'}"
                  f" (the <= {TARGET_SECONDS} s target is for 100,000 items)")
    else:
        target = f"<= {TARGET_SECONDS} s, peak RSS <= {TARGET_RSS_MB} MB per process — {'met' if met else 'NOT met'}"
    out.append({
        "name": f"fleet_order_{n}_postgresql", "unit": "s" if finished else "items/s",
        "value": round(elapsed, 1) if finished else round(rate, 1),
        "ceiling": round(copy_seconds, 2), "ceiling_unit": "s (raw COPY of the same item rows)",
        "ratio": round(rate / ceiling_rate, 4),
        "target": target,
        "details": {"items": n, "final_state": state if finished else None, "state_at_cap": state,
                    "items_settled": done, "post_seconds": round(post.seconds, 1),
                    "items_per_second": round(rate, 1), "copy_rows_per_second": round(ceiling_rate),
                    "projected_seconds": round(n / rate) if rate else None,
                    "peak_rss_mb": {"api": api_rss, "api_idle": rss_api_idle, "api_after_post": rss_api_post, **rss,
                                    "bench_process (seeding, not the API)": round(
                                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
                    "cpu_seconds": cpu,
                    "worker_cpu_ms_per_settled_item": round(
                        sum(v or 0 for k, v in cpu.items() if k != "api") * 1000 / done, 2) if done else None,
                    "workers": WORKERS, "threads_per_worker": THREADS, "cap_seconds": cap,
                    "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "notes": (f"one TMF622 productOrder of {n} delete items (close_line: bar, partner, settle, refund, end, freeze, "
                  f"receipt) POSTed over HTTP to one `canceldesk serve` process, processed by {WORKERS} `canceldesk worker "
                  f"--workers {THREADS}` "
                  f"processes on PostgreSQL + Redis; {'final state ' + state if finished else 'NOT final within the cap'}"
                  f" after {elapsed:.0f}s, {done} items settled; the ceiling is one COPY of the same {n} item rows."),
    })
    with c.engine.begin() as conn:
        conn.execute(text("SELECT 1"))
    c.dispose()


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="one large TMF622 order, POST to final state")
    parser.add_argument("--large", action="store_true",
                        help="1,000,000 items (BENCH_FLEET_LARGE_N) instead of BENCH_FLEET_N (100,000)")
    if parser.parse_args().large:
        os.environ["BENCH_FLEET_LARGE"] = "1"
    results: list = []
    run(results)
    print(json.dumps(results, indent=2, ensure_ascii=False))
