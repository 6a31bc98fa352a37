"""The saga (service_layer/engine.py and executor.py) on the in-memory unit of work (tests/fakes.py):
a request created and confirmed through `requests` is run to its end by the engine with in-memory
downstream systems — no database, no simulators, no sleeps."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from canceldesk.adapters.crypto import KeyRing
from canceldesk.bootstrap import load_policy
from canceldesk.domain.errors import PermanentError, StoreBusy
from canceldesk.domain.model import Customer, Line, Subscription
from canceldesk.service_layer import audit, engine, executor, receipts, requests
from canceldesk.service_layer.principal import Principal
from fakes import FakeContainer, Store
from fakes.stores import InMemoryRunStore
from support import Clock, noon, products

TODAY = date(2026, 11, 12)
ME = Principal(kind="subscriber", id="C001", login_msisdn="13800138000")
PERSON_ID = "11010519491231002X"


@pytest.fixture()
def c(monkeypatch) -> FakeContainer:
    keyring = KeyRing("unit-test-secret-" + "k" * 40)
    monkeypatch.setattr(audit, "_keyring", keyring)  # what bootstrap's audit.use_keyring does
    store = Store()
    for p in products():
        store.products[p.code] = p
    store.customers["C001"] = Customer("C001", "person", "张三", "cn_ric", PERSON_ID, keyring.digest(PERSON_ID))
    store.lines["13800138000"] = Line("13800138000", "C001", cash_balance=5000, gift_balance=1000)
    start, end = TODAY.replace(day=1), date(2026, 12, 1)
    for sub in (Subscription("S-PLAN", "13800138000", "PLAN-58", start, end),
                Subscription("S-CRBT", "13800138000", "VAS-CRBT", start, end),
                Subscription("S-CLOUD", "13800138000", "MEM-CLOUD", date(2026, 1, 1), date(2027, 1, 1),
                             auto_renew=False)):
        store.subscriptions[sub.id] = sub
    return FakeContainer(pack=load_policy("cn"), clock=Clock(noon(TODAY)), store=store, keyring=keyring)


def accept(c, cmd: requests.NewRequest, verification: dict | None = None):
    req, _ = requests.create_request(c, ME, cmd)
    req = requests.confirm(c, ME, req.tracking_no, verification)
    assert req.status == "executing"
    return req


def unsubscribe_cloud(c):
    return accept(c, requests.NewRequest(kind="unsubscribe", msisdn="13800138000", subscription_id="S-CLOUD"))


def test_an_unsubscribe_runs_to_completed_with_its_refund_paid_once_a_receipt_and_one_notice(c):
    req = unsubscribe_cloud(c)
    assert engine.drain(c) == 1

    done = c.store.requests[req.id]
    assert (done.status, done.completed_at) == ("completed", noon(TODAY))
    assert c.store.subscriptions["S-CLOUD"].status == "ended"
    # the partner stopped the membership at once, and the refund was paid once, keyed by request and step
    assert [(d["action"], d["target"]) for d in c.partners.done.values()] == [("stop", "S-CLOUD")]
    refund = 5000  # 36500 × 50/365: the year's unused days
    assert c.store.steps[req.id]["settle"].result["refund_lines"][0]["amount"] == refund
    assert [(k, d["amount"]) for k, d in c.payments.done.items()] == [(f"{req.id}:refund", refund)]
    assert [(p["request_id"], p["amount"], p["method"]) for p in c.store.payments.values()] == [
        (req.id, refund, "original")]
    # the receipt carries a verification code anyone can check
    receipt = c.store.receipts[req.id]
    assert receipt["verification_code"] == receipts.verification_code(c, req.tracking_no)
    assert receipt["body"]["refund"]["amount"] == refund
    assert receipts.verify(c, receipt["verification_code"])["genuine"] is True
    # the subscriber is told once that it is done, with the code
    completed = [m for m in c.store.outbox if m["event"] == "completed"]
    assert [(m["to"], m["ref"]) for m in completed] == [("13800138000", req.tracking_no)]
    assert [m["event"] for m in c.store.outbox] == ["accepted", "completed"]
    assert receipt["verification_code"] in completed[0]["text"]
    assert c.store.leases == {} and c.store.escalations == []
    assert [s for s in c.store.steps[req.id]] == ["stop_partner", "settle", "refund", "end_subscriptions",
                                                  "issue_receipt"]


def test_a_closure_runs_its_steps_in_order_and_the_line_ends_frozen(c):
    req = accept(c, requests.NewRequest(kind="close_line", msisdn="13800138000",
                                        acknowledged_warnings=("GIFT_BALANCE_FORFEIT",)),
                 verification={"id_last6": PERSON_ID[-6:]})
    assert engine.drain(c) == 1

    assert c.store.requests[req.id].status == "completed"
    steps = c.store.steps[req.id]
    assert list(steps) == [  # the order the step log recorded them in
        "bar_network", "stop_partner", "settle", "refund", "end_subscriptions", "freeze_number", "issue_receipt"]
    assert {s: r.status for s, r in steps.items()} == dict.fromkeys(steps, "done")
    line = c.store.lines["13800138000"]
    assert (line.status, line.cash_balance, line.gift_balance) == ("frozen", 0, 0)
    assert line.frozen_until is not None
    assert steps["freeze_number"].result == {"frozen_until": line.frozen_until.isoformat()}
    assert [(d["action"], d["target"]) for d in c.provisioning.done.values()] == [("bar", "13800138000")]
    assert {s.id: s.status for s in c.store.subscriptions.values()} == {
        "S-PLAN": "ended", "S-CRBT": "ended", "S-CLOUD": "ended"}
    assert [m["event"] for m in c.store.outbox if m["ref"] == req.tracking_no][-1] == "completed"


def test_a_refund_the_payments_system_refuses_fails_the_request_and_escalates_it(c):
    c.payments.fail["refund"] = PermanentError("payments: account closed")
    req = unsubscribe_cloud(c)
    assert engine.drain(c) == 1

    failed = c.store.requests[req.id]
    assert (failed.status, failed.failure) == ("failed", "refund: payments: account closed")
    assert [(e["request_id"], e["reason"], e["level"], e["step"], e["resolved_at"]) for e in c.store.escalations] == [
        (req.id, "failed", 1, "refund", None)]
    assert failed.deadline_at == noon(TODAY) + timedelta(hours=24)
    assert (c.store.steps[req.id]["refund"].status, c.store.steps[req.id]["refund"].error) == (
        "failed", "payments: account closed")
    assert c.store.payments == {} and c.payments.done == {}
    assert req.id not in c.store.receipts and req.id not in c.store.leases
    assert [m["event"] for m in c.store.outbox if m["ref"] == req.tracking_no] == ["accepted", "escalated"]
    assert engine.drain(c) == 0  # nothing due: a person owns it now


def test_a_resumed_run_after_the_refund_was_paid_does_not_refund_again(c, monkeypatch):
    req = unsubscribe_cloud(c)
    # The first run dies right after the payments system paid, before its reply was recorded.
    real = executor.call_downstream

    def dies_after_refund(c_, rid, call):
        out = real(c_, rid, call)
        if call.step == "refund":
            raise SystemExit("worker killed")
        return out

    monkeypatch.setattr(executor, "call_downstream", dies_after_refund)
    with pytest.raises(SystemExit):
        executor.execute(c, req.id)
    monkeypatch.setattr(executor, "call_downstream", real)
    assert c.store.requests[req.id].status == "executing"
    assert c.store.steps[req.id]["refund"].status == "started"
    assert len(c.payments.done) == 1 and c.store.payments == {}

    # Its lease lapses; the engine resumes the run and the refund's key meets what was paid.
    c.clock.advance(seconds=c.settings.lease_seconds + 1)
    assert engine.drain(c) == 1
    assert executor.execute(c, req.id) == "completed"  # once more, for good measure: nothing left to do

    assert c.store.requests[req.id].status == "completed"
    refund = c.store.steps[req.id]["settle"].result["refund"]
    assert [a for a, _ in c.payments.calls] == ["refund", "refund"]  # asked twice, paid once
    assert [d["amount"] for d in c.payments.acted("refund")] == [refund]
    assert [(p["request_id"], p["amount"]) for p in c.store.payments.values()] == [(req.id, refund)]
    assert refund == 5000
    assert [(e["settlement"], e["account"], e["amount"]) for e in c.store.ledger] == [
        ("settle", "revenue:subscriptions", -5000), ("settle", "payable:refund", 5000),
        ("refund_payment", "payable:refund", -5000), ("refund_payment", "payout:original", 5000)]
    assert len([m for m in c.store.outbox if m["event"] == "completed"]) == 1


def test_later_rounds_adopt_what_the_group_committed_and_complete_it_the_same(c, monkeypatch):
    """A group's later rounds take the requests, step logs and lines its last round committed instead
    of reading them again (the in-memory store adopts them as the SQL store does): the outcome is the
    same as reading them afresh — one refund, one receipt, the subscription ended."""
    adopted = []
    real = InMemoryRunStore.relock_requests
    monkeypatch.setattr(InMemoryRunStore, "relock_requests",
                        lambda self, kept: adopted.append(sorted(out := real(self, kept))) or out)
    req = unsubscribe_cloud(c)
    assert engine.drain(c) == 1

    assert adopted and all(ids == [req.id] for ids in adopted)  # every round after the first adopted it
    done = c.store.requests[req.id]
    assert (done.status, done.completed_at) == ("completed", noon(TODAY))
    assert [(k, d["amount"]) for k, d in c.payments.done.items()] == [(f"{req.id}:refund", 5000)]
    assert c.store.subscriptions["S-CLOUD"].status == "ended"
    assert {s: r.status for s, r in c.store.steps[req.id].items()} == dict.fromkeys(
        ["stop_partner", "settle", "refund", "end_subscriptions", "issue_receipt"], "done")


def test_a_request_another_run_changed_between_rounds_is_read_again_and_keeps_that_change(c, monkeypatch):
    """The sweeper moves the promised time while a call is out: the next round sees the change (it
    does not adopt its stale copy), so the new promise survives the completion."""
    req = unsubscribe_cloud(c)
    later = noon(TODAY) + timedelta(days=3)
    real = executor.call_downstream

    def sweeper_moves_the_promise(c_, rid, call):
        with c.uow() as uow:
            uow.repo.request_by_id(rid).deadline_at = later
            uow.commit()
        return real(c_, rid, call)

    monkeypatch.setattr(executor, "call_downstream", sweeper_moves_the_promise)
    assert engine.drain(c) == 1
    done = c.store.requests[req.id]
    assert (done.status, done.deadline_at, done.completed_at) == ("completed", later, noon(TODAY))
    assert [k for k in c.payments.done] == [f"{req.id}:refund"]


def test_a_line_another_run_changed_between_rounds_is_not_overwritten_by_the_groups_stale_copy(c, monkeypatch):
    """A closure's line is written by the group's rounds and adopted by the next one; if someone else
    changes it while a call is out (here a top-up lands while the refund is being paid), the adopted
    copy is stale: that round is "not now" (nothing written), the request is parked and resumed from
    a fresh read, and the top-up is still on the line when the closure completes."""
    req = accept(c, requests.NewRequest(kind="close_line", msisdn="13800138000",
                                        acknowledged_warnings=("GIFT_BALANCE_FORFEIT",)),
                 verification={"id_last6": PERSON_ID[-6:]})
    real, stale, topped = executor.call_downstream, [], []

    def top_up_while_the_refund_is_paid(c_, rid, call):
        if call.step == "refund" and not topped:
            topped.append(rid)
            with c.uow() as uow:
                uow.repo.line("13800138000").cash_balance += 700
                uow.commit()
        return real(c_, rid, call)

    adopt = InMemoryRunStore.adopt_lines

    def adopt_lines(self, lines):
        try:
            adopt(self, lines)
        except StoreBusy as exc:
            stale.append(str(exc))
            raise

    monkeypatch.setattr(executor, "call_downstream", top_up_while_the_refund_is_paid)
    monkeypatch.setattr(InMemoryRunStore, "adopt_lines", adopt_lines)
    for _ in range(10):
        engine.drain(c)
        if c.store.requests[req.id].status != "executing":
            break
        c.clock.advance(seconds=5)  # the parked request is due again
    assert stale == ["lines: 13800138000 changed since the group's last round"]
    assert c.store.requests[req.id].status == "completed"
    line = c.store.lines["13800138000"]
    assert (line.status, line.cash_balance, line.gift_balance) == ("frozen", 700, 0)
    assert [(k, d["amount"]) for k, d in c.payments.done.items()] == [(f"{req.id}:refund", 10000)]  # paid once
