"""Named transitions for lines, subscriptions, steps and batches: one table each, an illegal move is
a domain error with its code (the API answers 409 with that code, never a 500)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from itertools import product

import pytest
from fastapi.testclient import TestClient

from canceldesk.bootstrap import load_policy
from canceldesk.domain.access import access_end, period_end_access
from canceldesk.domain.batch import BATCH_TRANSITIONS, BATCHES, BatchPhase
from canceldesk.domain.ending import end_subscriptions
from canceldesk.domain.execution import STEP_TRANSITIONS, StepRecord, StepStatus
from canceldesk.domain.lifecycle import IllegalTransition as RequestIllegal
from canceldesk.domain.model import (LINE_TRANSITIONS, SUBSCRIPTION_TRANSITIONS, Line, LineStatus, Product,
                                     Subscription, SubscriptionStatus)
from canceldesk.domain.transitions import IllegalTransition

T0 = datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc)
CN = load_policy("cn")


def line(status=LineStatus.ACTIVE) -> Line:
    return Line(msisdn="13800138000", customer_id="C001", status=status)


def sub(status=SubscriptionStatus.ACTIVE, auto_renew=True, sid="S1") -> Subscription:
    return Subscription(sid, "13800138000", "MEM-VIDEO", date(2026, 3, 1), date(2026, 4, 1), auto_renew=auto_renew,
                        status=status)


@pytest.mark.parametrize(("table", "states"), [(LINE_TRANSITIONS, LineStatus), (SUBSCRIPTION_TRANSITIONS, SubscriptionStatus),
                                               (STEP_TRANSITIONS, StepStatus), (BATCH_TRANSITIONS, BatchPhase)])
def test_every_table_names_every_state(table, states):
    assert set(table) == set(states)
    assert all(set(nxt) <= set(states) for nxt in table.values())


FORBIDDEN_LINE = [(a, b) for a, b in product(LineStatus, LineStatus) if b not in LINE_TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "wanted"), FORBIDDEN_LINE)
def test_a_line_refuses_every_move_its_table_does_not_list(current, wanted):
    ln = line(current)
    with pytest.raises(IllegalTransition) as err:
        ln.transition(wanted, T0, "system", "worker")
    assert err.value.code == "ILLEGAL_LINE_TRANSITION"
    assert str(err.value) == f"a line in '{current}' cannot become '{wanted}'"
    assert err.value.as_details() == {"entity": "line", "from": str(current), "to": str(wanted)}
    assert ln.status == current and ln.history == []


def test_closing_a_line_freezes_it_and_appends_one_history_entry():
    ln = line()
    entry = ln.close(T0, 90, actor="system", channel="worker", request_id="r-1")
    assert (ln.status, ln.closed_at, ln.frozen_until, ln.former_customer_id) == (
        "frozen", T0, T0 + timedelta(days=90), "C001")
    assert ln.history == [entry]
    assert entry.as_dict() == {"at": T0.isoformat(), "from": "active", "to": "frozen", "by": "system",
                               "channel": "worker", "request_id": "r-1", "reason": "closed"}


def test_reclaim_then_recycle_is_refused_and_the_history_keeps_order():
    ln = line()
    ln.close(T0, 90)
    ln.reclaim(T0 + timedelta(days=3), "C001", actor="subscriber:C001", channel="app", request_id="r-2")
    assert (ln.status, ln.closed_at, ln.frozen_until, ln.customer_id) == ("active", None, None, "C001")
    with pytest.raises(IllegalTransition):
        ln.recycle(T0 + timedelta(days=4))
    assert [(e.from_status, e.to_status) for e in ln.history] == [("active", "frozen"), ("frozen", "active")]
    assert ln.history[1].as_dict(with_actor=False)["by"] == "subscriber"


def test_a_recyclable_line_cannot_be_closed_again():
    ln = line(LineStatus.FROZEN)
    ln.recycle(T0)
    with pytest.raises(IllegalTransition) as err:
        ln.close(T0, 90)
    assert (err.value.current, err.value.wanted) == ("recyclable", "frozen")


def test_subscription_transitions():
    s = sub()
    s.end_at_period_end(period_end_access(s, CN))
    assert (s.status, s.auto_renew, s.access_ends_at.isoformat()) == ("ending", False, "2026-04-01T00:00:00+08:00")
    with pytest.raises(IllegalTransition) as err:
        s.end_at_period_end(T0)
    assert err.value.code == "ILLEGAL_SUBSCRIPTION_TRANSITION"
    s.lapse(T0)
    assert (s.status, s.ended_at.isoformat()) == ("ended", "2026-04-01T00:00:00+08:00")
    with pytest.raises(IllegalTransition):
        s.end_now(T0)
    with pytest.raises(IllegalTransition) as err:
        s.stop_renewal(T0)
    assert str(err.value) == "a subscription in 'ended' cannot become 'renewal_stopped'"


def test_step_records_move_through_their_table():
    rec = StepRecord.begin("r-1", "refund", T0)
    assert (rec.status, rec.attempts) == ("started", 1)
    rec.restart(T0 + timedelta(seconds=5))
    rec.fail("payments down" * 100)
    assert (rec.status, rec.attempts, len(rec.error)) == ("failed", 2, 500)
    rec.reset()
    assert (rec.status, rec.attempts) == ("started", 0)
    rec.finish(T0, {"paid": 100})
    assert (rec.status, rec.error, rec.result) == ("done", None, {"paid": 100})
    with pytest.raises(IllegalTransition) as err:
        rec.restart(T0)
    assert err.value.code == "ILLEGAL_STEP_TRANSITION"
    local = StepRecord.done_locally("r-1", "settle", T0, {"refund": 0})
    with pytest.raises(IllegalTransition):
        local.fail("late")


def test_batch_phases_go_one_way():
    BATCHES.check("prechecking", "prechecked")
    BATCHES.check("submitting", "submitting")  # a stalled submission resumed
    with pytest.raises(IllegalTransition) as err:
        BATCHES.check("submitted", "submitting")
    assert (err.value.code, str(err.value)) == ("ILLEGAL_BATCH_TRANSITION",
                                                "a batch in 'submitted' cannot become 'submitting'")


def test_requests_keep_their_error_and_message():
    assert RequestIllegal is IllegalTransition
    assert str(IllegalTransition("completed", "executing")) == "a request in 'completed' cannot become 'executing'"
    assert IllegalTransition("completed", "executing").code == "ILLEGAL_REQUEST_TRANSITION"


VIDEO = Product("MEM-VIDEO", "membership", "视频会员", "Video", 1500, partner="p")
DATA = Product("VAS-DATA", "vas", "流量包", "Data", 1000, unsubscribe_effect="immediate", refund="prorated")


@pytest.mark.parametrize(("kind", "target", "expected"), [
    ("close_line", None, {"S1": ("ended", False, T0), "S2": ("ended", False, T0)}),
    ("withdraw", "S1", {"S1": ("ended", False, T0), "S2": ("active", True, None)}),
    ("unsubscribe", "S1", {"S1": ("ending", False, datetime(2026, 3, 31, 16, tzinfo=timezone.utc)),
                           "S2": ("active", True, None)}),
    ("unsubscribe", "S2", {"S1": ("active", True, None), "S2": ("ended", False, T0)}),
    ("cancel_renewal", "S1", {"S1": ("active", False, datetime(2026, 3, 31, 16, tzinfo=timezone.utc)),
                              "S2": ("active", True, None)}),
])
def test_what_ending_does_to_each_subscription(kind, target, expected):
    subs = [(sub(sid="S1"), VIDEO), (sub(sid="S2"), DATA)]
    changed = end_subscriptions(kind, target, subs, T0, CN)
    got = {s.id: (str(s.status), s.auto_renew, s.access_ends_at) for s, _ in subs}
    assert got == expected
    assert sorted(s.id for s in changed) == sorted(k for k, v in expected.items() if v != ("active", True, None))
    assert end_subscriptions(kind, target, subs, T0 + timedelta(days=1), CN) == []  # idempotent: a re-run changes nothing


def test_access_end_is_one_rule():
    assert access_end(sub(), CN) is None  # it renews
    assert access_end(sub(auto_renew=False), CN).isoformat() == "2026-04-01T00:00:00+08:00"
    ended = sub()
    ended.end_now(T0)
    assert access_end(ended, CN) == T0


def test_the_api_answers_an_illegal_transition_with_409_and_its_code(tmp_path):
    from support import make_container
    from canceldesk.entrypoints.api.app import create_app
    c = make_container(f"sqlite:///{tmp_path}/t.db")
    app = create_app(c)

    def boom():
        line(LineStatus.RECYCLABLE).close(T0, 90)
    app.add_api_route("/boom", boom)
    r = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert r.status_code == 409
    assert r.json() == {"error": {"code": "ILLEGAL_LINE_TRANSITION",
                                  "message": "a line in 'recyclable' cannot become 'frozen'",
                                  "details": {"entity": "line", "from": "recyclable", "to": "frozen"}}}
    c.dispose()
