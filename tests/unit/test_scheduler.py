"""Durable execution with a fake clock: retries and escalation, the sweeper, renewals and their
reminders, the freeze window and reclaim, the retention purge. Every duty is a plain function
(c, now) called directly here."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from canceldesk.service_layer.errors import NotFound
from canceldesk.adapters import orm
from canceldesk.adapters.downstream import TransientError, sim_calls
from canceldesk.domain.execution import backoff_seconds
from canceldesk.domain.model import Line
from canceldesk.service_layer import (delivery, escalations, executor, numbers, renewals, requests as svc, retention,
                                      scheduler)
from canceldesk.service_layer.principal import Principal
from support import Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)
ALICE = Principal(kind="subscriber", id="C001", login_msisdn="13800138000")
BOB = Principal(kind="subscriber", id="C002", login_msisdn="13900139000")


@pytest.fixture()
def world(tmp_path):
    clock = Clock(noon(TODAY))
    c = make_container(f"sqlite:///{tmp_path}/sched.db", clock=clock, retry_max_attempts=4, retry_base_seconds=0.01)
    seed(c, TODAY)
    yield c, clock
    c.dispose()


def submit(c, p, kind, msisdn, sub=None, verification=None, ack=()):
    req, _ = svc.create_request(c, p, svc.NewRequest(kind=kind, msisdn=msisdn, subscription_id=sub,
                                                     acknowledged_warnings=tuple(ack)))
    if req.status != "awaiting_confirmation":
        return req
    return svc.confirm(c, p, req.tracking_no, verification=verification)


def status_of(c, req) -> str:
    with c.uow() as uow:
        return uow.repo.request_by_id(req.id).status


def messages(c, event=None, to=None) -> list[dict]:
    with c.uow() as uow:
        return [m for m in uow.repo.messages(to=to) if event is None or m["event"] == event]


class FlakyPayments:
    """Payments that fail `failures` times (optionally after acting: a lost reply), then work."""

    def __init__(self, real, failures: int, after: bool = False):
        self.real, self.failures, self.after, self.calls = real, failures, after, 0

    def refund(self, **kw):
        self.calls += 1
        if self.failures and not self.after:
            self.failures -= 1
            raise TransientError("payments: simulated 503")
        ref = self.real.refund(**kw)
        if self.failures:
            self.failures -= 1
            raise TransientError("payments: simulated lost reply")
        return ref

    def charge(self, **kw):
        return self.real.charge(**kw)


def drive(c, req, clock, max_runs=20) -> list[float]:
    """Run the saga like the queue would: again after each RetryLater, the clock moved by its delay."""
    delays = []
    for _ in range(max_runs):
        try:
            status = executor.execute(c, req.id)
        except executor.RetryLater as exc:
            delays.append(exc.delay)
            clock.advance(seconds=exc.delay)
            continue
        if status != "executing":
            return delays
    raise AssertionError("the request never settled")


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    for n in range(1, 12):
        ceiling = min(600.0, 5.0 * 2 ** (n - 1))
        d = backoff_seconds(n, base=5.0, rng=rng)
        assert ceiling / 2 <= d <= ceiling
    assert len({round(backoff_seconds(3, base=5.0, rng=rng), 6) for _ in range(20)}) > 10  # jittered


def test_a_transient_refund_error_is_retried_with_backoff_and_paid_once(world):
    c, clock = world
    c.payments = FlakyPayments(c.payments, failures=2)
    req = submit(c, ALICE, "unsubscribe", "13800138000", "S-DATA")  # immediate, prorated refund
    delays = drive(c, req, clock)
    assert status_of(c, req) == "completed"
    assert len(delays) == 1  # the first run (at confirm) already failed once inside the queue task
    with c.uow() as uow:
        steps = uow.repo.steps(req.id)
        assert steps["refund"].attempts == 3 and steps["refund"].status == "done"
        assert uow.repo.count(orm.payments) == 1
        assert sum(e["amount"] for e in uow.repo.ledger_of(req.id)) == 0


def test_a_lost_reply_never_pays_twice(world):
    c, clock = world
    c.payments = FlakyPayments(c.payments, failures=2, after=True)
    req = submit(c, ALICE, "unsubscribe", "13800138000", "S-DATA")
    drive(c, req, clock)
    assert status_of(c, req) == "completed"
    with c.engine.connect() as conn:
        remote = conn.execute(select(sim_calls).where(sim_calls.c.system == "payments")).all()
    assert c.payments.calls == 3 and len(remote) == 1  # three calls, one refund at the payment system
    with c.uow() as uow:
        assert uow.repo.payment(f"{req.id}:refund")["amount"] == remote[0].amount


def test_retries_are_bounded_then_failed_escalated_and_the_subscriber_told(world):
    c, clock = world
    c.payments = FlakyPayments(c.payments, failures=100)
    req = submit(c, ALICE, "unsubscribe", "13800138000", "S-DATA")
    delays = drive(c, req, clock)
    assert status_of(c, req) == "failed"
    assert len(delays) == c.settings.retry_max_attempts - 2  # attempt 1 ran at confirm, the last one fails
    assert delays == sorted(delays) or max(delays) <= 0.01 * 2 ** 3
    with c.uow() as uow:
        r = uow.repo.request_by_id(req.id)
        assert r.failure.startswith("refund:") and "gave up after 4 attempts" in r.failure
        assert uow.repo.steps(req.id)["refund"].status == "failed"
        assert uow.repo.count(orm.payments) == 0
    told = messages(c, "escalated", "13800138000")
    assert len(told) == 1 and told[0]["sent_at"] is not None and "已转人工跟进" in told[0]["text"]
    queue = escalations.queue(c, clock.now)
    assert [q["tracking_no"] for q in queue] == [req.tracking_no]
    assert queue[0]["escalation"]["reason"] == "failed" and queue[0]["escalation"]["step"] == "refund"


def test_staff_see_the_escalation_queue_over_http_oldest_first(world):
    from canceldesk.entrypoints.api.app import create_app
    from canceldesk.service_layer import auth
    c, clock = world
    c.payments = FlakyPayments(c.payments, failures=1000)
    first = submit(c, ALICE, "unsubscribe", "13800138000", "S-DATA")
    clock.advance(minutes=5)
    second = submit(c, ALICE, "cancel_renewal", "13800138000", "S-VIDEO")  # completes: no refund
    clock.advance(minutes=5)
    third = submit(c, BOB, "close_line", "13900139000", verification={"id_last6": "071234"})
    for r in (third, first):
        drive(c, r, clock)
    auth.create_staff_user(c, "rev", "reviewer-pass-2026", "reviewer", "Rev")
    client = TestClient(create_app(c))
    token = client.post("/v1/auth/staff", json={"username": "rev", "password": "reviewer-pass-2026"}).json()["token"]
    got = client.get("/v1/admin/queues/escalations", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text
    rows = got.json()["requests"]
    assert [r["tracking_no"] for r in rows] == [first.tracking_no, third.tracking_no]  # by age, oldest first
    assert rows[0]["age_minutes"] >= rows[1]["age_minutes"] and rows[0]["escalation"]["step"] == "refund"
    assert status_of(c, second) == "completed"


def test_a_worker_dying_mid_step_is_resumed_by_the_sweeper_without_paying_twice(world):
    c, clock = world
    real = c.payments

    class Dies:
        def refund(self, **kw):
            real.refund(**kw)           # the payment system acted …
            raise KeyboardInterrupt     # … and the worker process died before recording it

    c.payments = Dies()
    submit(c, ALICE, "unsubscribe", "13800138000", "S-DATA")  # huey logs "did not finish"
    with c.uow() as uow:
        req = uow.repo.requests_of("C001")[0]
    assert req.status == "executing"
    c.payments = real
    assert scheduler.sweep(c, clock.now) == {"overdue": 0, "resumed": 0}  # its lease is still live
    clock.advance(seconds=c.settings.lease_seconds + 1)
    assert scheduler.sweep(c, clock.now)["resumed"] == 1
    assert status_of(c, req) == "completed"
    with c.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sim_calls).where(sim_calls.c.system == "payments")).scalar() == 1
        assert conn.execute(select(func.count()).select_from(orm.payments)).scalar() == 1


def test_a_request_past_its_deadline_is_escalated_once_per_missed_promise(world):
    c, clock = world
    c.payments = FlakyPayments(c.payments, failures=1000)
    c.settings.retry_max_attempts = 50
    older = submit(c, ALICE, "unsubscribe", "13800138000", "S-DATA")
    clock.advance(minutes=10)
    newer = submit(c, BOB, "unsubscribe", "13900139000", "S-OTHER")  # end_of_cycle, partner stop …
    assert status_of(c, newer) == "completed"
    clock.advance(minutes=55)  # the unsubscribe promise (CN: 60 minutes) is missed for `older` only
    assert escalations.escalate_overdue(c, clock.now) == 1
    assert escalations.escalate_overdue(c, clock.now) == 0
    told = messages(c, "overdue", "13800138000")
    assert len(told) == 1 and "新的预计办结时间" in told[0]["text"]
    with c.uow() as uow:
        r = uow.repo.request_by_id(older.id)
        assert r.status == "executing" and r.deadline_at == clock.now + timedelta(minutes=60)
    q = escalations.queue(c, clock.now)
    assert [x["tracking_no"] for x in q] == [older.tracking_no] and q[0]["escalation"]["reason"] == "overdue"
    clock.advance(minutes=61)
    assert escalations.escalate_overdue(c, clock.now) == 1
    assert len(messages(c, "overdue", "13800138000")) == 2


def test_the_promise_runs_from_confirmation(world):
    c, clock = world
    req, _ = svc.create_request(c, ALICE, svc.NewRequest(kind="cancel_renewal", msisdn="13800138000",
                                                         subscription_id="S-VIDEO"))
    clock.advance(hours=3)
    done = svc.confirm(c, ALICE, req.tracking_no)
    assert done.deadline_at == clock.now + timedelta(minutes=60)
    accepted = messages(c, "accepted", "13800138000")[0]["text"]
    assert "2026-11-12 16:00" in accepted  # 12:00 + 3 h + 1 h, Asia/Shanghai


def _sub(c, sub_id):
    with c.uow() as uow:
        return uow.repo.subscription(sub_id)


def _renewals(c, sub_id):
    with c.engine.connect() as conn:
        rows = conn.execute(select(orm.renewals).where(orm.renewals.c.subscription_id == sub_id)).mappings().all()
        ledger = {r["key"]: conn.execute(select(func.sum(orm.renewal_ledger.c.amount)).where(
            orm.renewal_ledger.c.renewal_key == r["key"])).scalar() for r in rows}
        charges = conn.execute(select(func.count()).select_from(sim_calls).where(
            sim_calls.c.key.like(f"payments:renewal:{sub_id}:%"))).scalar()
    return rows, ledger, charges


def test_reminded_renewal_is_charged_once_at_period_end_and_the_period_advances(world):
    c, clock = world
    end = _sub(c, "S-VIDEO").period_end  # 2026-12-07
    clock.now = noon(end - timedelta(days=6))
    assert renewals.send_reminders(c, clock.now)["reminded"] == 0 or not messages(c, "renewal_reminder")
    clock.now = noon(end - timedelta(days=5))
    renewals.send_reminders(c, clock.now)
    renewals.send_reminders(c, clock.now)
    reminder = [m for m in messages(c, "renewal_reminder", "13800138000") if "视频会员" in m["text"]]
    assert len(reminder) == 1 and reminder[0]["sent_at"] is not None and end.isoformat() in reminder[0]["text"]
    clock.now = noon(end)
    assert renewals.run_renewals(c, clock.now).get("charged", 0) >= 1
    renewals.run_renewals(c, clock.now)
    rows, ledger, charges = _renewals(c, "S-VIDEO")
    assert len(rows) == 1 and rows[0]["status"] == "charged" and charges == 1
    assert list(ledger.values()) == [0]
    sub = _sub(c, "S-VIDEO")
    assert (sub.period_start, sub.period_end) == (end, date(2027, 1, 7)) and sub.status == "active"
    assert any("已自动续费" in m["text"] for m in messages(c, "renewed", "13800138000"))


def test_cancel_renewal_really_stops_the_charge(world):
    c, clock = world
    req = submit(c, ALICE, "cancel_renewal", "13800138000", "S-VIDEO")
    assert status_of(c, req) == "completed"
    end = _sub(c, "S-VIDEO").period_end
    clock.now = noon(end - timedelta(days=5))
    renewals.send_reminders(c, clock.now)
    assert not [m for m in messages(c, "renewal_reminder", "13800138000") if "视频会员" in m["text"]]
    clock.now = noon(end)
    renewals.run_renewals(c, clock.now)
    sub = _sub(c, "S-VIDEO")
    assert sub.status == "ended" and sub.period_end == end
    assert _renewals(c, "S-VIDEO")[0] == [] and _renewals(c, "S-VIDEO")[2] == 0


def test_no_reminder_delivered_in_time_means_no_charge_until_reminded(world):
    c, clock = world
    end = _sub(c, "S-VIDEO").period_end
    clock.now = noon(end)  # the reminder duty never ran: nothing was delivered 5 days ahead
    renewals.run_renewals(c, clock.now)
    sub = _sub(c, "S-VIDEO")
    assert sub.renewal_postponed and sub.period_end == end and _renewals(c, "S-VIDEO")[2] == 0
    again = [m for m in messages(c, "renewal_postponed", "13800138000") if "视频会员" in m["text"]]
    assert len(again) == 1 and (end + timedelta(days=5)).isoformat() in again[0]["text"]
    clock.advance(days=4)
    renewals.run_renewals(c, clock.now)
    assert _renewals(c, "S-VIDEO")[2] == 0 and len(messages(c, "renewal_postponed", "13800138000")) >= 1
    clock.advance(days=1, seconds=1)
    renewals.run_renewals(c, clock.now)
    rows, ledger, charges = _renewals(c, "S-VIDEO")
    sub = _sub(c, "S-VIDEO")
    assert charges == 1 and rows[0]["status"] == "charged" and list(ledger.values()) == [0]
    assert sub.period_start == end + timedelta(days=5) and not sub.renewal_postponed  # nothing billed for the gap


def test_unsubscribed_end_of_cycle_service_ends_at_period_end(world):
    c, clock = world
    submit(c, ALICE, "unsubscribe", "13800138000", "S-CRBT")
    assert _sub(c, "S-CRBT").status == "ending"
    clock.now = noon(_sub(c, "S-CRBT").period_end)
    renewals.run_renewals(c, clock.now)
    assert _sub(c, "S-CRBT").status == "ended" and _renewals(c, "S-CRBT")[2] == 0


def _line(c, msisdn) -> Line:
    with c.uow() as uow:
        return uow.repo.line(msisdn)


def test_reclaim_inside_the_freeze_window_and_recyclable_after_it(world):
    c, clock = world
    with c.uow() as uow:  # a second line of Alice's, where the freeze-ending notice can reach her
        uow.session.add(Line(msisdn="13800138001", customer_id="C001", cash_balance=0))
        uow.commit()
    close = submit(c, ALICE, "close_line", "13800138000", verification={"id_last6": "31002X"},
                   ack=["GIFT_BALANCE_FORFEIT"])
    assert status_of(c, close) == "completed" and _line(c, "13800138000").status == "frozen"
    clock.advance(days=30)
    back = submit(c, ALICE, "reclaim", "13800138000")
    assert status_of(c, back) == "completed"
    line = _line(c, "13800138000")
    assert line.status == "active" and line.customer_id == "C001" and line.frozen_until is None
    with c.uow() as uow:
        assert uow.repo.receipt(back.id) is not None
    close2 = submit(c, ALICE, "close_line", "13800138000", verification={"id_last6": "31002X"})
    assert status_of(c, close2) == "completed"
    frozen_until = _line(c, "13800138000").frozen_until
    clock.now = frozen_until - timedelta(days=6)
    assert numbers.expire_freezes(c, clock.now) == {"recyclable": 0, "freeze_ending_notices": 1}
    numbers.expire_freezes(c, clock.now)
    notice = messages(c, "freeze_ending", "13800138001")
    assert len(notice) == 1 and "138****8000" in notice[0]["text"]
    clock.now = frozen_until + timedelta(seconds=1)
    assert numbers.expire_freezes(c, clock.now)["recyclable"] == 1
    assert _line(c, "13800138000").status == "recyclable"
    # recycled: the number is nobody's now — the former owner gets what a missing number gets (issue 8)
    with pytest.raises(NotFound) as late:
        submit(c, ALICE, "reclaim", "13800138000")
    assert late.value.message == "no such line"


def test_retention_purge_anonymises_after_the_pack_period_with_an_audit_record(world):
    c, clock = world
    close = submit(c, BOB, "close_line", "13900139000", verification={"id_last6": "071234"})
    assert status_of(c, close) == "completed"
    closed_at = _line(c, "13900139000").closed_at
    clock.now = closed_at + timedelta(days=100)
    numbers.expire_freezes(c, clock.now)
    assert retention.purge(c, clock.now) == {"anonymised": 0}  # kept 2 years after service ended
    clock.now = closed_at + timedelta(days=731)
    assert retention.purge(c, clock.now) == {"anonymised": 1}
    assert retention.purge(c, clock.now) == {"anonymised": 0}
    with c.uow() as uow:
        bob, alice = uow.repo.customer("C002"), uow.repo.customer("C001")
        assert bob.name == "已匿名" and bob.id_doc_number.startswith("ANON-") and bob.anonymised_at == clock.now
        assert not uow.repo.customers_by_digest(c.keyring.digest("310115199303071234"))
        assert alice.anonymised_at is None and alice.name == "张三"
        rows = uow.session.execute(select(orm.audit_log).where(orm.audit_log.c.event == "retention.purge")).mappings().all()
    assert len(rows) == 1 and rows[0]["subject"] == "customer:C002"
    assert "李四" not in str(rows[0]["details"]) and "310115" not in str(rows[0]["details"])
    assert rows[0]["details"]["retention_days"] == 730


def test_duties_run_once_per_interval_across_workers(world):
    c, clock = world
    assert set(scheduler.claim_due(c, clock.now)) == set(scheduler.DUTIES)
    assert scheduler.claim_due(c, clock.now + timedelta(seconds=30)) == []
    again = scheduler.claim_due(c, clock.now + timedelta(minutes=1))
    assert set(again) == {"sweep", "deliver_outbox"}
    assert "duties_tick" in c.tasks and "run_duty" in c.tasks
    out = scheduler.run(c, "sweep", clock.now)
    assert out == {"overdue": 0, "resumed": 0}


def test_a_message_whose_send_reply_was_lost_is_delivered_exactly_once(world):
    c, clock = world
    real = c.sms_gateway

    class LosesFirstReply:
        lost = False

        def send(self, to, text, key):
            ref = real.send(to, text, key)
            if not self.lost:
                self.lost = True
                raise TransientError("sms: lost reply")
            return ref

    c.sms_gateway = LosesFirstReply()
    submit(c, ALICE, "cancel_renewal", "13800138000", "S-VIDEO")
    pending = [m for m in messages(c) if m["sent_at"] is None]
    assert len(pending) == 1 and pending[0]["attempts"] == 1
    assert delivery.deliver_pending(c) == 0  # not due yet: it waits for its backoff
    clock.advance(seconds=30)
    assert delivery.deliver_pending(c) == 1
    with c.engine.connect() as conn:
        sends = conn.execute(select(sim_calls.c.key, func.count()).where(sim_calls.c.system == "sms")
                             .group_by(sim_calls.c.key)).all()
    outbox = [m for m in messages(c) if m["event"] != "otp"]
    assert all(m["sent_at"] is not None for m in outbox)
    assert len(sends) == len(outbox) and all(n == 1 for _, n in sends)


def test_a_retried_partner_step_does_not_call_the_partners_that_already_stopped(world):
    from canceldesk.domain.model import Subscription
    c, clock = world
    with c.uow() as uow:
        uow.session.add(Subscription("S-CLOUD", "13800138000", "MEM-CLOUD", TODAY - timedelta(days=10),
                                     TODAY + timedelta(days=355)))
        uow.commit()
    real, calls = c.partners, []

    class SecondFailsOnce:
        failed = False

        def stop_service(self, sub_id, code, key):
            calls.append(sub_id)
            if sub_id == "S-VIDEO" and not self.failed:
                self.failed = True
                raise TransientError("partners: 503")
            return real.stop_service(sub_id, code, key)

    c.partners = SecondFailsOnce()
    req = submit(c, ALICE, "close_line", "13800138000", verification={"id_last6": "31002X"}, ack=["GIFT_BALANCE_FORFEIT"])
    drive(c, req, clock)
    assert status_of(c, req) == "completed"
    assert calls == ["S-CLOUD", "S-VIDEO", "S-VIDEO"]  # S-CLOUD stopped once, only S-VIDEO retried
    with c.uow() as uow:
        assert set(uow.repo.steps(req.id)["stop_partner"].result["partner_refs"]) == {"S-CLOUD", "S-VIDEO"}
