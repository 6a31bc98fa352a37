"""Shared helpers for the benchmarks: seeding many lines fast, timing, machine facts."""
from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import insert

from canceldesk.adapters import orm
from canceldesk.adapters.db import recreate_schema
from canceldesk.bootstrap import bootstrap
from canceldesk.config import Settings

PG_URL = os.environ.get("CANCELDESK_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CANCELDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def machine() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_container(url: str, queue_url: str = "immediate", **kw):
    with_queue = queue_url != "none"
    c = bootstrap(Settings(env="test", database_url=url, queue_url=queue_url if with_queue else "immediate", **kw),
                  with_queue=with_queue)
    recreate_schema(c.engine)
    return c


def seed_lines(c, n: int, today: date, prefix: int = 1380000) -> list[tuple[str, str]]:
    """n people, each with one line and one VAS subscription. Returns (customer_id, msisdn) pairs.
    Written 5,000 at a time, each chunk's rows made just before: a million lines (`bench_fleet_order.py
    --large`) never sit in memory as three million dicts."""
    from stdnum.cn import ric
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    pairs = []
    with c.engine.begin() as conn:
        conn.execute(insert(orm.products), [{"code": "VAS-BENCH", "kind": "vas", "name_zh": "彩铃", "name_en": "Ringback",
                                             "price": 500, "currency": "CNY", "period": "month",
                                             "unsubscribe_effect": "immediate", "refund": "prorated", "partner": None}])
        for chunk in range(0, n, 5000):
            customers, lines, subs = [], [], []
            for i in range(chunk, min(chunk + 5000, n)):
                base = f"110105199001{(i % 28) + 1:02d}{i % 1000:03d}0"
                idn = base[:17] + ric.calc_check_digit(base)
                cid = f"B{i:07d}"
                msisdn = f"{prefix + i // 10000}{i % 10000:04d}"
                customers.append({"id": cid, "kind": "person", "name": f"测试{i}", "id_doc_type": "cn_ric",
                                  "id_doc_number": idn, "id_doc_digest": c.keyring.digest(idn)})
                lines.append({"msisdn": msisdn, "customer_id": cid, "status": "active", "cash_balance": 1000,
                              "gift_balance": 0, "deposit": 0, "unbilled_usage": 0, "arrears": 0, "installment_due": 0,
                              "port_out_pending": False, "contract_fee": 0, "bindings": [], "currency": "CNY",
                              "version": 1})
                subs.append({"id": f"S{i:07d}", "msisdn": msisdn, "product_code": "VAS-BENCH",
                             "period_start": month_start, "period_end": next_month, "auto_renew": True,
                             "status": "active", "renewal_postponed": False})
                pairs.append((cid, msisdn))
            conn.execute(insert(orm.customers), customers)
            conn.execute(insert(orm.lines), lines)
            conn.execute(insert(orm.subscriptions), subs)
    return pairs


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


def accepted_unsubscribes(c, pairs: list[tuple[str, str]]) -> list[str]:
    """Insert accepted unsubscribes (status executing, as `confirm` leaves them) in bulk; their ids."""
    now = datetime.now(timezone.utc)
    rows = []
    for cid, msisdn in pairs:
        sub = f"S{int(cid[1:]):07d}"
        rows.append({"id": str(uuid.uuid4()), "tracking_no": f"CDB{uuid.uuid4().hex[:16].upper()}", "kind": "unsubscribe",
                     "msisdn": msisdn, "subscription_id": sub, "customer_id": cid, "channel": "app",
                     "requested_by": f"subscriber:{cid}", "status": "executing", "open_target": f"sub:{sub}",
                     "impact": {}, "acknowledged_warnings": [], "reject_codes": [], "created_at": now,
                     "updated_at": now, "deadline_at": now + timedelta(hours=1)})
    with c.engine.begin() as conn:
        for k in range(0, len(rows), 5000):
            conn.execute(insert(orm.requests), rows[k:k + 5000])
    return [r["id"] for r in rows]


_readers: dict = {}


def completed(c, ids: list[str]) -> int:
    """How many of `ids` are completed. On SQLite through a plain reader (WAL: never waits for the
    writer), not the app's engine, whose transactions take the write lock.

    The benchmarks poll this every 50 ms from the process they measure, so it is kept cheap: the id
    list is bound by the driver (one placeholder per id) instead of SQLAlchemy expanding an IN list of
    thousands of parameters in Python on every poll, which cost as much CPU as the engine it watched."""
    engine = c.engine
    if engine.dialect.name == "sqlite":
        from sqlalchemy import create_engine
        url = str(engine.url)
        engine = _readers.get(url) or _readers.setdefault(url, create_engine(url))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # one array parameter, sent as its text (ids are uuids)
            return conn.exec_driver_sql("SELECT count(*) FROM requests WHERE status = 'completed' "
                                        "AND id = ANY(%s::varchar[])", ("{" + ",".join(ids) + "}",)).scalar()
        n = 0
        for k in range(0, len(ids), 20000):
            chunk = tuple(ids[k:k + 20000])
            n += conn.exec_driver_sql("SELECT count(*) FROM requests WHERE status = 'completed' AND id IN "
                                      f"({','.join('?' * len(chunk))})", chunk).scalar()
        return n


def start_workers(count: int, threads: int = 4, **env_extra: str) -> list[subprocess.Popen]:
    """`count` `canceldesk worker --workers threads` processes on the bench PostgreSQL + Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANCELDESK_")}
    env.update(CANCELDESK_ENV="test", CANCELDESK_DATABASE_URL=PG_URL, CANCELDESK_QUEUE_URL=REDIS_URL,
               CANCELDESK_LOG_LEVEL="WARNING", **env_extra)
    return [subprocess.Popen([sys.executable, "-m", "canceldesk.cli", "worker", "--workers", str(threads)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]


def stop_workers(procs: list[subprocess.Popen], timeout: float = 20) -> None:
    """Terminate the processes, then wait for each (killed after `timeout` seconds)."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
