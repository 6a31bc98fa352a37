"""`create_request` and `confirm` on the in-memory unit of work (tests/fakes.py): the use cases depend
on the ports (service_layer/ports.py), not on SQL, so they run — and fail — without a database."""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from canceldesk.bootstrap import load_policy
from canceldesk.domain.model import Customer, Line, Subscription
from canceldesk.service_layer import requests
from canceldesk.service_layer.errors import Conflict, InvalidInput, NotFound
from canceldesk.service_layer.principal import Principal
from fakes import FakeContainer, InMemoryRepository, Store
from support import Clock, noon, products

TODAY = date(2026, 11, 12)
ME = Principal(kind="subscriber", id="C001", login_msisdn="13800138000")
OTHER = Principal(kind="subscriber", id="C002", login_msisdn="13900139000")


@pytest.fixture()
def c() -> FakeContainer:
    store = Store()
    for p in products():
        store.products[p.code] = p
    store.customers["C001"] = Customer("C001", "person", "张三", "cn_ric", "11010519491231002X")
    store.customers["C002"] = Customer("C002", "person", "李四", "cn_ric", "310115199303071230")
    store.lines["13800138000"] = Line("13800138000", "C001", cash_balance=5000, gift_balance=1000)
    store.lines["13900139000"] = Line("13900139000", "C002", cash_balance=100)
    start, end = TODAY.replace(day=1), date(2026, 12, 1)
    for sub in (Subscription("S-PLAN", "13800138000", "PLAN-58", start, end),
                Subscription("S-CRBT", "13800138000", "VAS-CRBT", start, end),
                Subscription("S-DATA", "13800138000", "VAS-DATA", start, end, auto_renew=False),
                Subscription("S-VIDEO", "13800138000", "MEM-VIDEO", TODAY - timedelta(days=5), TODAY + timedelta(days=25))):
        store.subscriptions[sub.id] = sub
    return FakeContainer(pack=load_policy("cn"), clock=Clock(noon(TODAY)), store=store)


def unsubscribe(sub: str = "S-CRBT", key: str | None = None) -> requests.NewRequest:
    return requests.NewRequest(kind="unsubscribe", msisdn="13800138000", subscription_id=sub, idempotency_key=key)


def test_create_request_stores_the_request_its_timeline_and_one_message_in_one_commit(c):
    req, created = requests.create_request(c, ME, unsubscribe())
    assert created is True
    assert (req.status, req.customer_id, req.channel, req.open_target) == (
        "awaiting_confirmation", "C001", "app", "sub:S-CRBT")
    assert [(t.from_status, t.to_status) for t in req.timeline] == [
        (None, "submitted"), ("submitted", "checked"), ("checked", "awaiting_confirmation")]
    assert req.deadline_at == noon(TODAY) + timedelta(minutes=60)
    stored = c.store.requests[req.id]
    assert (stored.tracking_no, stored.status) == (req.tracking_no, "awaiting_confirmation")
    assert [(m["to"], m["event"], m["ref"]) for m in c.store.outbox] == [("13800138000", "needs_action", req.tracking_no)]
    assert c.store.commits == 1


def test_the_same_idempotency_key_returns_the_same_request_and_a_new_body_is_refused(c):
    first, _ = requests.create_request(c, ME, unsubscribe(key="k1"))
    again, created = requests.create_request(c, ME, unsubscribe(key="k1"))
    assert (again.id, created) == (first.id, False)
    with pytest.raises(Conflict) as err:
        requests.create_request(c, ME, unsubscribe("S-VIDEO", key="k1"))
    assert (err.value.status, err.value.code, err.value.details) == (
        409, "IDEMPOTENCY_KEY_REUSED", {"tracking_no": first.tracking_no})
    assert len(c.store.requests) == 1


def test_a_second_request_on_the_same_target_is_refused_with_the_open_ones_tracking_number(c):
    first, _ = requests.create_request(c, ME, unsubscribe())
    with pytest.raises(Conflict) as err:
        requests.create_request(c, ME, unsubscribe())
    assert (err.value.code, err.value.details) == ("OPEN_REQUEST", {"tracking_no": first.tracking_no})


def test_a_race_lost_at_the_stores_unique_rule_is_a_409_not_a_500(c, monkeypatch):
    first, _ = requests.create_request(c, ME, unsubscribe())
    # the other request committed after this one read the line's open requests
    monkeypatch.setattr(InMemoryRepository, "open_requests_on_line", lambda self, msisdn: [])
    with pytest.raises(Conflict) as err:
        requests.create_request(c, ME, unsubscribe())
    assert (err.value.code, err.value.details) == ("OPEN_REQUEST", {"tracking_no": first.tracking_no})
    assert list(c.store.requests) == [first.id]


def test_another_persons_line_is_not_found_and_nothing_is_written(c):
    with pytest.raises(NotFound) as err:
        requests.create_request(c, OTHER, unsubscribe())
    assert (err.value.status, err.value.message) == (404, "no such line")
    assert (c.store.requests, c.store.outbox, c.store.commits) == ({}, [], 0)


def test_warnings_must_be_acknowledged_before_a_closure_is_created(c):
    cmd = requests.NewRequest(kind="close_line", msisdn="13800138000")
    with pytest.raises(InvalidInput) as err:
        requests.create_request(c, ME, cmd)
    assert (err.value.code, err.value.details["missing"]) == ("WARNINGS_NOT_ACKNOWLEDGED", ["GIFT_BALANCE_FORFEIT"])
    assert c.store.requests == {}


def test_a_blocked_request_is_stored_rejected_with_its_codes(c):
    c.store.lines["13800138000"].arrears = 8650
    req, created = requests.create_request(c, ME, requests.NewRequest(
        kind="close_line", msisdn="13800138000", acknowledged_warnings=("GIFT_BALANCE_FORFEIT",)))
    assert (created, req.status, req.reject_codes, req.open_target) == (True, "rejected", ["ARREARS"], None)
    assert [m["event"] for m in c.store.outbox] == ["rejected"]


def test_confirm_starts_execution_once(c):
    req, _ = requests.create_request(c, ME, unsubscribe())
    done = requests.confirm(c, ME, req.tracking_no)
    assert done.status == "executing"
    assert c.store.requests[req.id].status == "executing"
    assert c.enqueued == [req.id]
    assert [m["event"] for m in c.store.outbox] == ["needs_action", "accepted"]
    with pytest.raises(Conflict) as err:
        requests.confirm(c, ME, req.tracking_no)
    assert (err.value.status, err.value.code, err.value.details) == (409, "INVALID_STATE", {"status": "executing"})
    assert c.enqueued == [req.id]


def test_confirm_checks_the_facts_again_and_rejects_when_they_changed(c):
    req, _ = requests.create_request(c, ME, unsubscribe())
    c.store.lines["13800138000"].status = "frozen"  # closed through another channel meanwhile
    done = requests.confirm(c, ME, req.tracking_no)
    assert (done.status, done.reject_codes) == ("rejected", ["LINE_NOT_ACTIVE"])
    assert (c.store.requests[req.id].status, c.store.requests[req.id].open_target, c.enqueued) == ("rejected", None, [])


def test_a_refund_over_the_threshold_goes_to_review_instead_of_execution(c):
    c.pack = dataclasses.replace(c.pack, review_refund_over=0)
    req, _ = requests.create_request(c, ME, unsubscribe("S-DATA"))
    done = requests.confirm(c, ME, req.tracking_no)
    assert done.status == "in_review"
    assert done.timeline[-1].reason.startswith("refund ") and done.timeline[-1].reason.endswith("over review threshold 0")
    assert c.enqueued == []


def test_another_person_cannot_confirm_and_the_request_is_untouched(c):
    req, _ = requests.create_request(c, ME, unsubscribe())
    with pytest.raises(NotFound):
        requests.confirm(c, OTHER, req.tracking_no)
    assert (c.store.requests[req.id].status, c.enqueued) == ("awaiting_confirmation", [])


def test_line_history_shows_each_owner_their_own_time_with_the_number(c):
    from canceldesk.domain.lifecycle import Request
    from canceldesk.domain.model import LineHistoryEntry
    from canceldesk.service_layer import selfservice
    t0 = noon(TODAY) - timedelta(days=120)
    c.store.requests["r-1"] = Request(id="r-1", tracking_no="CD20260715AAAA0001", kind="close_line", msisdn="13800138000",
                                      customer_id="C001", channel="app", requested_by="subscriber:C001", created_at=t0)
    line = c.store.lines["13800138000"]
    line.customer_id, line.former_customer_id = "C002", "C001"  # closed by C001, recycled, re-issued to C002
    c.store.history += [
        LineHistoryEntry("13800138000", t0, "active", "frozen", "system", "worker", "r-1", "closed", id=1),
        LineHistoryEntry("13800138000", t0 + timedelta(days=90), "frozen", "recyclable", "system", "scheduler", None,
                         "freeze window over", id=2),
        LineHistoryEntry("13800138000", t0 + timedelta(days=100), "recyclable", "active", "system:import", "import",
                         None, "imported", id=3)]
    former = selfservice.line_history(c, ME, "13800138000")
    assert [(e["from"], e["to"], e["tracking_no"]) for e in former] == [
        ("active", "frozen", "CD20260715AAAA0001"), ("frozen", "recyclable", None)]
    current = selfservice.line_history(c, OTHER, "13800138000")
    assert [(e["from"], e["to"], e["by"], e["tracking_no"]) for e in current] == [("recyclable", "active", "system", None)]
    staff = selfservice.line_history(c, Principal(kind="staff", id="alice", role="agent", store="S1"), "13800138000")
    assert [e["to"] for e in staff] == ["frozen", "recyclable", "active"] and staff[2]["by"] == "system:import"
    with pytest.raises(NotFound):
        selfservice.line_history(c, Principal(kind="subscriber", id="C009"), "13800138000")
