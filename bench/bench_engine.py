"""Engine: completed cancellations per second through the service layer (no HTTP), against a
raw insert of the same number of rows into the same database (the ceiling)."""
from __future__ import annotations

import os
import tempfile
from datetime import date

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from canceldesk.service_layer import requests as svc
from canceldesk.service_layer.principal import Principal

from common import PG_URL, Timer, fresh_container, seed_lines

N = int(os.environ.get("BENCH_ENGINE_N", "1000"))


def _raw_insert_rate(c, n: int) -> float:
    md = MetaData()
    t = Table("bench_raw", md, Column("id", Integer, primary_key=True), Column("payload", String(64)))
    md.drop_all(c.engine)
    md.create_all(c.engine)
    with Timer() as tm:
        for i in range(n):  # one transaction per row, as each cancellation commits on its own
            with c.engine.begin() as conn:
                conn.execute(insert(t).values(id=i, payload=f"row {i}"))
    md.drop_all(c.engine)
    return n / tm.seconds


def _cancellations(c, pairs) -> float:
    with Timer() as tm:
        for cid, msisdn in pairs:
            p = Principal(kind="subscriber", id=cid, login_msisdn=msisdn)
            req, _ = svc.create_request(c, p, svc.NewRequest(kind="unsubscribe", msisdn=msisdn,
                                                             subscription_id=f"S{int(cid[1:]):07d}"))
            done = svc.confirm(c, p, req.tracking_no)
    assert done.status == "executing", done.status  # accepted; the immediate queue ran it: counted below
    with c.uow() as uow:
        completed = uow.repo.requests_in_status(["completed"], limit=len(pairs) + 1)
    assert len(completed) == len(pairs), f"only {len(completed)} of {len(pairs)} completed"
    return len(pairs) / tm.seconds


def run(results: list, n: int = N) -> None:
    today = date.today()
    with tempfile.TemporaryDirectory() as d:
        for label, url in (("sqlite", f"sqlite:///{d}/engine.db"), ("postgresql", PG_URL)):
            c = fresh_container(url)
            pairs = seed_lines(c, n, today)
            rate = _cancellations(c, pairs)
            ceiling = _raw_insert_rate(c, n)
            results.append({"name": f"engine_completed_cancellations_{label}", "unit": "requests/s", "value": round(rate, 1),
                            "baseline": round(ceiling, 1), "ratio": round(rate / ceiling, 3),
                            "notes": f"{n} unsubscribes (create + confirm + saga: partner stop, settle, refund, end, receipt, "
                                     f"notify) in one process, queue inline; baseline = single-row committed inserts "
                                     f"into the same {label} database. Targets: >=1000/s on SQLite, ratio >= 0.25"})
            c.dispose()


if __name__ == "__main__":
    out: list = []
    run(out, int(os.environ.get("BENCH_ENGINE_N", "300")))
    for r in out:
        print(r)
