"""Fault tests: ≥1,000 requests across kinds, 30% downstream failures (errors, timeouts, lost
replies) and latency, real `canceldesk worker` processes killed with SIGKILL mid-run and
restarted — on SQLite + the embedded queue (one worker process) and on PostgreSQL + Redis (two).

Afterwards: every accepted request ended completed, rejected or failed-and-escalated (none
stuck); each refund was paid exactly once (the payment system's own records against ours, per
request key); every settlement's ledger sums to zero; no notification was sent twice for the
same event, and every one was delivered. Figures go to test-artifacts/durability-<backend>.json.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from stdnum.cn import ric

from canceldesk.adapters import orm
from canceldesk.adapters.downstream import sim_calls
from canceldesk.domain.prechecks import local_today
from canceldesk.service_layer import escalations, requests as svc, scheduler
from canceldesk.service_layer.errors import ServiceError
from canceldesk.service_layer.principal import Principal
from support import PG_URL, REDIS_URL, make_container, require_service

N = int(os.environ.get("CANCELDESK_FAULT_REQUESTS", "1000"))
SQLITE_WORKERS = int(os.environ.get("CANCELDESK_FAULT_SQLITE_WORKERS", "1"))  # the embedded queue, one machine
FAULTS = {"CANCELDESK_SIM_FAILURE_RATE": "0.3", "CANCELDESK_SIM_LATENCY_MS": "2",
          "CANCELDESK_RETRY_BASE_SECONDS": "0.05", "CANCELDESK_RETRY_MAX_ATTEMPTS": "6",
          "CANCELDESK_LEASE_SECONDS": "4", "CANCELDESK_QUEUE_GRACE_SECONDS": "30"}
SETTINGS = dict(sim_failure_rate=0.3, sim_latency_ms=2, retry_base_seconds=0.05, retry_max_attempts=6,
                lease_seconds=4, queue_grace_seconds=30)
# one request per person; the mix of kinds (out of 20)
MIX = (["unsubscribe:S-DATA"] * 5 + ["unsubscribe:S-CLOUD"] * 2 + ["unsubscribe:S-CRBT"] * 2
       + ["cancel_renewal:S-VIDEO"] * 4 + ["close_line"] * 5 + ["reclaim"] + ["close_line:arrears"])
TERMINAL = {"completed", "rejected", "failed"}
SUBMITTERS = 3
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _id_number(i: int) -> str:
    base = f"1101051990{(i // 28) % 12 + 1:02d}{i % 28 + 1:02d}{(i // 336) % 1000:03d}0"
    return base[:17] + ric.calc_check_digit(base)


def seed_people(c, n: int, now: datetime) -> list[dict]:
    """n people, one line each, four subscriptions on active lines; bulk inserts (SQLAlchemy Core)."""
    today = local_today(now, c.pack)
    start, end = today - timedelta(days=10), today + timedelta(days=20)
    products = [
        dict(code="VAS-CRBT", kind="vas", name_zh="彩铃", name_en="Ringback tone", price=500),
        dict(code="VAS-DATA", kind="vas", name_zh="流量加油包", name_en="Data booster", price=1000,
             unsubscribe_effect="immediate", refund="prorated"),
        dict(code="MEM-VIDEO", kind="membership", name_zh="视频会员", name_en="Video membership", price=1500,
             partner="腾讯视频"),
        dict(code="MEM-CLOUD", kind="membership", name_zh="云盘会员", name_en="Cloud membership", price=36500,
             period="year", unsubscribe_effect="immediate", refund="prorated", partner="云盘"),
    ]
    for p in products:
        p.setdefault("currency", "CNY"), p.setdefault("period", "month"), p.setdefault("unsubscribe_effect", "end_of_cycle")
        p.setdefault("refund", "none"), p.setdefault("partner", None)
    customers, lines, subs, people = [], [], [], []
    for i in range(n):
        kind = MIX[i % len(MIX)]
        cid, msisdn, idn = f"F{i:06d}", f"{13800000000 + i}", _id_number(i)
        customers.append(dict(id=cid, kind="person", name=f"测试{i}", id_doc_type="cn_ric", id_doc_number=idn,
                              id_doc_digest=c.keyring.digest(idn)))
        line = dict(msisdn=msisdn, customer_id=cid, status="active", cash_balance=2000 + i % 500, gift_balance=0,
                    deposit=0, unbilled_usage=100, arrears=0, installment_due=0, port_out_pending=False,
                    contract_fee=0, bindings=[], currency="CNY", version=1, closed_at=None, frozen_until=None,
                    former_customer_id=None)  # every row the same keys: the first row names the columns
        if kind == "reclaim":
            line.update(status="frozen", closed_at=now - timedelta(days=10), frozen_until=now + timedelta(days=80),
                        former_customer_id=cid, cash_balance=0)
        if kind == "close_line:arrears":
            line.update(arrears=800)
        lines.append(line)
        if kind != "reclaim":
            for sid, code, s, e in (("S-CRBT", "VAS-CRBT", start, end), ("S-DATA", "VAS-DATA", start, end),
                                    ("S-VIDEO", "MEM-VIDEO", start, end),
                                    ("S-CLOUD", "MEM-CLOUD", today - timedelta(days=100), today + timedelta(days=265))):
                subs.append(dict(id=f"{sid}-{i}", msisdn=msisdn, product_code=code, period_start=s, period_end=e,
                                 auto_renew=True, status="active", renewal_postponed=False))
        people.append(dict(i=i, cid=cid, msisdn=msisdn, id_last6=idn[-6:], kind=kind))
    with c.engine.begin() as conn:
        conn.execute(insert(orm.products), products)
        for k in range(0, n, 2000):
            conn.execute(insert(orm.customers), customers[k:k + 2000])
            conn.execute(insert(orm.lines), lines[k:k + 2000])
        for k in range(0, len(subs), 4000):
            conn.execute(insert(orm.subscriptions), subs[k:k + 4000])
    return people


def submit(c, person: dict) -> tuple[str, str]:
    """Create and confirm through the service layer, as the app would. Returns (request id, status)."""
    p = Principal(kind="subscriber", id=person["cid"], login_msisdn=person["msisdn"])
    kind, _, target = person["kind"].partition(":")
    sub = f"{target}-{person['i']}" if target.startswith("S-") else None
    req, _ = svc.create_request(c, p, svc.NewRequest(kind=kind, msisdn=person["msisdn"], subscription_id=sub,
                                                     idempotency_key=f"fault-{person['i']}"))
    if req.status != "awaiting_confirmation":
        return req.id, req.status
    verification = {"id_last6": person["id_last6"]} if kind == "close_line" else None
    return req.id, svc.confirm(c, p, req.tracking_no, verification=verification).status


class Workers:
    """Real `python -m canceldesk.cli worker` processes, killed and restarted on demand."""

    def __init__(self, env: dict, count: int, threads: int, logdir: Path):
        self.env, self.count, self.threads, self.logdir = env, count, threads, logdir
        self.procs: list[subprocess.Popen] = []
        self.started = 0

    def start(self) -> None:
        while len(self.procs) < self.count:
            self.started += 1
            log = open(self.logdir / f"worker-{self.started}.log", "w")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "canceldesk.cli", "worker", "--workers", str(self.threads)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def kill_all(self) -> int:
        for p in self.procs:
            p.send_signal(signal.SIGKILL)
        for p in self.procs:
            p.wait(timeout=10)
        n, self.procs = len(self.procs), []
        return n

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []


def _count(conn, q) -> int:
    return conn.execute(q).scalar() or 0


def run_fault_test(c, env: dict, workers: int, threads: int, tmp_path: Path, label: str) -> dict:
    t0 = time.monotonic()
    people = seed_people(c, N, c.now())
    fleet = Workers(env, workers, threads, tmp_path)
    fleet.start()
    submitted, outcomes_at_submit, kills, errors = {}, Counter(), [], []
    lock = threading.Lock()
    pending = iter(people)

    def submitter():  # the app's web workers: several requests in flight at once
        while True:
            with lock:
                person = next(pending, None)
            if person is None:
                return
            try:
                rid, status = submit(c, person)
            except ServiceError as exc:  # never expected: every person is eligible or stopped by a blocker
                errors.append(f"{person['kind']} for {person['msisdn']}: {exc.code} {exc.message}")
                return
            with lock:
                submitted[rid] = person
                outcomes_at_submit[status] += 1

    try:
        submitters = [threading.Thread(target=submitter) for _ in range(SUBMITTERS)]
        for t in submitters:
            t.start()
        for point in (int(N * 0.35), int(N * 0.7)):  # SIGKILL the workers twice while requests pour in
            while len(submitted) < point and any(t.is_alive() for t in submitters):
                time.sleep(0.01)
            kills.append(_kill(c, fleet))
        for t in submitters:
            t.join()
        assert not errors, errors[:3]
        submit_seconds = time.monotonic() - t0
        time.sleep(1.0)
        kills.append(_kill(c, fleet))  # a third kill while the backlog drains
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            scheduler.sweep(c, datetime.now(timezone.utc))  # the sweeper's periodic job, driven faster
            with c.engine.connect() as conn:
                open_ = _count(conn, select(func.count()).select_from(orm.requests)
                               .where(orm.requests.c.status.not_in(list(TERMINAL))))
                unsent = _count(conn, select(func.count()).select_from(orm.outbox).where(orm.outbox.c.sent_at.is_(None)))
            if open_ == 0 and unsent == 0:
                break
            time.sleep(1.0)
    finally:
        fleet.stop()
    wall = time.monotonic() - t0
    return verify(c, submitted, outcomes_at_submit, kills, fleet.started, wall, submit_seconds, label)


def _kill(c, fleet: Workers) -> dict:
    """SIGKILL every worker process while at least one request is held mid-run (a lease owned), then restart."""
    until = time.monotonic() + 5
    while True:
        with c.engine.connect() as conn:
            held = _count(conn, select(func.count()).select_from(orm.execution_leases)
                          .where(orm.execution_leases.c.owner.is_not(None)))
            executing = _count(conn, select(func.count()).select_from(orm.requests)
                               .where(orm.requests.c.status == "executing"))
        if held or time.monotonic() > until:
            break
        time.sleep(0.005)
    killed = fleet.kill_all()
    fleet.start()
    return {"processes_killed": killed, "requests_executing": executing, "leases_held": held}


def verify(c, submitted: dict, at_submit: Counter, kills: list, started: int, wall: float, submit_seconds: float,
           label: str) -> dict:
    with c.engine.connect() as conn:
        reqs = {r.id: r for r in conn.execute(select(orm.requests.c.id, orm.requests.c.kind, orm.requests.c.status,
                                                     orm.requests.c.tracking_no, orm.requests.c.msisdn))}
        steps = conn.execute(select(orm.execution_steps.c.request_id, orm.execution_steps.c.step,
                                    orm.execution_steps.c.attempts, orm.execution_steps.c.result)).all()
        payments = Counter(r.request_id for r in conn.execute(select(orm.payments.c.request_id)))
        paid_local = {r.request_id: r.amount for r in conn.execute(select(orm.payments.c.request_id, orm.payments.c.amount))}
        remote = conn.execute(select(sim_calls.c.key, sim_calls.c.amount).where(sim_calls.c.system == "payments")).all()
        ledgers = conn.execute(select(orm.ledger_entries.c.request_id, orm.ledger_entries.c.settlement,
                                      func.sum(orm.ledger_entries.c.amount))
                               .group_by(orm.ledger_entries.c.request_id, orm.ledger_entries.c.settlement)).all()
        outbox = conn.execute(select(orm.outbox.c.id, orm.outbox.c.ref, orm.outbox.c.event, orm.outbox.c.sent_at,
                                     orm.outbox.c.attempts, orm.outbox.c.dedup_key)).all()
        sms = Counter(r.key for r in conn.execute(select(sim_calls.c.key).where(sim_calls.c.system == "sms")))
        escalated = {r.request_id for r in conn.execute(select(orm.escalations.c.request_id)
                                                        .where(orm.escalations.c.reason == "failed"))}
        leases_left = _count(conn, select(func.count()).select_from(orm.execution_leases))
        line_status = dict(conn.execute(select(orm.lines.c.msisdn, orm.lines.c.status)).all())

    statuses = Counter(reqs[r].status for r in submitted)
    # 1. nothing stuck: every accepted request is completed, rejected or failed-and-escalated
    stuck = [reqs[r].tracking_no for r in submitted if reqs[r].status not in TERMINAL]
    assert not stuck, f"{len(stuck)} requests stuck, e.g. {stuck[:5]}"
    failed = [r for r in submitted if reqs[r].status == "failed"]
    assert all(r in escalated for r in failed), "a failed request without an escalation"
    told = {(m.ref, m.event) for m in outbox if m.sent_at is not None}
    assert all((reqs[r].tracking_no, "escalated") in told for r in failed), "a failed request whose subscriber was not told"
    in_queue = {q["tracking_no"] for q in escalations.queue(c, datetime.now(timezone.utc), limit=10_000)}
    assert {reqs[r].tracking_no for r in failed} <= in_queue
    assert leases_left == 0
    # 2. each refund paid exactly once, the payment system's records against ours
    settled = {s.request_id: (s.result or {}).get("refund", 0) for s in steps if s.step == "settle"}
    remote_by_request = Counter(k.split(":")[1] for k, _ in remote if k.endswith(":refund"))
    remote_amount = {k.split(":")[1]: a for k, a in remote if k.endswith(":refund")}
    assert all(n == 1 for n in payments.values()) and all(n == 1 for n in remote_by_request.values())
    refunded = 0
    for r in submitted:
        if reqs[r].status == "completed" and settled.get(r, 0) > 0:
            refunded += 1
            assert payments[r] == 1 and remote_by_request[r] == 1, f"refund of {reqs[r].tracking_no} not paid exactly once"
            assert paid_local[r] == remote_amount[r] == settled[r]
    assert set(paid_local) <= set(remote_amount), "a refund recorded here that the payment system never paid"
    paid_then_failed = sorted(set(remote_amount) - set(paid_local))  # the last attempt's reply was lost
    assert all(reqs[r].status == "failed" for r in paid_then_failed)
    # 3. every settlement's ledger sums to zero
    assert ledgers and all(total == 0 for _, _, total in ledgers), [x for x in ledgers if x[2] != 0][:5]
    # 4. notifications: each event once, every one delivered, each delivered once at the gateway
    per_event = Counter((m.ref, m.event) for m in outbox if m.event not in ("otp", "escalated", "overdue"))
    assert all(n == 1 for n in per_event.values()), [k for k, n in per_event.items() if n > 1][:5]
    assert all(m.sent_at is not None for m in outbox), "a notification never delivered"
    assert set(sms) == {f"sms:outbox:{m.id}" for m in outbox} and all(n == 1 for n in sms.values())
    # 5. the effects are real: closed numbers frozen, reclaimed numbers back
    for r in submitted:
        if reqs[r].status == "completed" and reqs[r].kind in ("close_line", "reclaim"):
            assert line_status[reqs[r].msisdn] == ("frozen" if reqs[r].kind == "close_line" else "active")

    attempts = [s.attempts for s in steps]
    figures = {
        "backend": label, "requests": len(submitted), "kinds": dict(Counter(reqs[r].kind for r in submitted)),
        "outcomes": dict(statuses), "rejected_at_submit": at_submit.get("rejected", 0),
        "failed_and_escalated": len(failed), "refunds_paid": refunded, "refund_paid_then_failed": len(paid_then_failed),
        "downstream_attempts": sum(attempts), "downstream_retries": sum(a - 1 for a in attempts if a > 1),
        "notifications": len(outbox), "notification_delivery_attempts": sum(m.attempts for m in outbox),  # incl. claims stranded by kills
        "kills": kills, "worker_processes_started": started, "submit_seconds": round(submit_seconds, 1),
        "wall_seconds": round(wall, 1),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"durability-{label}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    print(json.dumps(figures, ensure_ascii=False))
    assert len(submitted) >= 1000 or N < 1000
    assert len(kills) >= 2 and sum(k["processes_killed"] for k in kills) >= 2
    return figures


def _env(db_url: str, queue_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANCELDESK_")}
    env.update(FAULTS, CANCELDESK_ENV="test", CANCELDESK_DATABASE_URL=db_url, CANCELDESK_QUEUE_URL=queue_url,
               CANCELDESK_LOG_LEVEL="WARNING")
    return env


@pytest.mark.timeout(300)
def test_faults_on_sqlite_with_the_embedded_queue(tmp_path):
    url = f"sqlite:///{tmp_path}/durable.db"
    c = make_container(url, queue_url="embedded", **SETTINGS)
    try:
        run_fault_test(c, _env(url, "embedded"), workers=SQLITE_WORKERS, threads=4, tmp_path=tmp_path, label="sqlite-embedded")
    finally:
        c.dispose()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(300)
def test_faults_on_postgresql_with_redis_and_two_workers(tmp_path):
    require_service("redis", REDIS_URL)
    c = make_container(PG_URL, queue_url=REDIS_URL, **SETTINGS)
    try:
        import redis
        redis.Redis.from_url(REDIS_URL).flushdb()  # this test's own Redis database only
        run_fault_test(c, _env(PG_URL, REDIS_URL), workers=2, threads=4, tmp_path=tmp_path, label="postgresql-redis")
    finally:
        c.dispose()
