"""The request lifecycle: one transition table, every change on the timeline, nothing lost.

DOMAIN.md: submitted → checked → awaiting_confirmation → [in_review] → executing → completed,
exits rejected / withdrawn / failed; every transition appended with time, actor, channel, reason.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from itertools import product

import pytest

from canceldesk.domain import lifecycle
from canceldesk.domain.lifecycle import (OPEN, TERMINAL, TRANSITIONS, IllegalTransition, Request,
                                         RequestKind, Status)

T0 = datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc)

ALLOWED = sorted((src, dst) for src, dsts in TRANSITIONS.items() for dst in dsts)
FORBIDDEN = sorted((src, dst) for src, dst in product(Status, Status) if dst not in TRANSITIONS[src])


def new_request(kind: str = "close_line", status: Status = Status.SUBMITTED, subscription_id: str | None = None) -> Request:
    req = Request(id="r-1", tracking_no="CD20260314000001", kind=kind, msisdn="13800138000",
                  customer_id="C001", channel="app", requested_by="13800138000", created_at=T0,
                  subscription_id=subscription_id, reason="moving abroad")
    req.start(T0, actor="13800138000", channel="app")
    req.status = status  # test set-up only: place the request in the state under test
    return req


def test_the_table_covers_every_status_and_the_happy_path_of_domain_md():
    assert set(TRANSITIONS) == set(Status)
    path = [Status.SUBMITTED, Status.CHECKED, Status.AWAITING_CONFIRMATION, Status.IN_REVIEW,
            Status.EXECUTING, Status.COMPLETED]
    for a, b in zip(path, path[1:]):
        assert b in TRANSITIONS[a], f"{a} → {b} is the documented path"
    assert Status.EXECUTING in TRANSITIONS[Status.AWAITING_CONFIRMATION], "review is optional ([in_review])"


def test_submission_is_the_first_timeline_entry_and_claims_the_target():
    req = new_request()
    first = req.timeline[0]
    assert (first.from_status, first.to_status, first.at, first.actor, first.channel, first.reason) == (
        None, Status.SUBMITTED, T0, "13800138000", "app", "moving abroad")
    assert req.open_target == "line:13800138000"
    sub_req = new_request(kind="cancel_renewal", subscription_id="S-9")
    assert sub_req.open_target == "sub:S-9", "a subscription request covers the subscription, not the line"


@pytest.mark.parametrize(("src", "dst"), ALLOWED, ids=[f"{s}->{d}" for s, d in ALLOWED])
def test_every_allowed_transition_works_and_is_recorded(src, dst):
    req = new_request(status=src)
    before = len(req.timeline)
    at = T0 + timedelta(minutes=5)
    req.transition(dst, at, actor="agent:A017", channel="counter", reason="why it happened")
    assert req.status == dst
    assert len(req.timeline) == before + 1
    entry = req.timeline[-1]
    assert (entry.from_status, entry.to_status) == (src, dst)
    assert (entry.at, entry.actor, entry.channel, entry.reason) == (at, "agent:A017", "counter", "why it happened")
    assert entry.as_dict() == {"at": at.isoformat(), "from": src, "to": dst, "actor": "agent:A017",
                               "channel": "counter", "reason": "why it happened"}
    assert req.updated_at == at


@pytest.mark.parametrize(("src", "dst"), FORBIDDEN, ids=[f"{s}->{d}" for s, d in FORBIDDEN])
def test_every_other_pair_is_an_illegal_transition_and_changes_nothing(src, dst):
    req = new_request(status=src)
    timeline = list(req.timeline)
    target = req.open_target
    with pytest.raises(IllegalTransition) as err:
        req.transition(dst, T0, actor="system", channel="worker")
    assert (err.value.current, err.value.wanted) == (src, dst)
    assert req.status == src and req.timeline == timeline and req.open_target == target


def test_an_unknown_status_name_is_refused():
    req = new_request()
    with pytest.raises(ValueError):
        req.transition("cancelled", T0, actor="system", channel="worker")


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_states_release_the_target_and_accept_nothing_more(terminal):
    src = next(s for s, dsts in TRANSITIONS.items() if terminal in dsts)
    req = new_request(status=src)
    assert req.open_target == "line:13800138000" and req.is_open
    req.transition(terminal, T0 + timedelta(hours=1), actor="system", channel="worker", reason="done")
    assert req.open_target is None, "another request on the same line may now be made"
    assert not req.is_open
    assert TRANSITIONS[terminal] == frozenset()
    assert (req.completed_at is not None) == (terminal == Status.COMPLETED)


def test_a_failed_request_keeps_its_target_and_stays_visible_until_a_person_acts():
    """Failed is escalated, never silent: still open, retry or close it with a reason."""
    req = new_request(status=Status.EXECUTING)
    req.transition(Status.FAILED, T0, actor="system", channel="worker", reason="HLR timeout")
    assert req.is_open and req.open_target == "line:13800138000"
    req.transition(Status.EXECUTING, T0 + timedelta(minutes=10), actor="agent:A017", channel="staff", reason="retry")
    req.transition(Status.COMPLETED, T0 + timedelta(minutes=11), actor="system", channel="worker")
    assert req.completed_at == T0 + timedelta(minutes=11)
    assert [e.to_status for e in req.timeline] == [Status.SUBMITTED, Status.FAILED, Status.EXECUTING, Status.COMPLETED]


def test_every_accepted_request_can_reach_a_terminal_state():
    for start in Status:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & TERMINAL, f"a request in {start} could never finish"
    assert OPEN == frozenset(Status) - TERMINAL


def test_withdrawal_is_offered_exactly_where_the_table_allows_it():
    """`can_withdraw` (shown to the subscriber) and the table agree: before execution only."""
    for status in Status:
        req = new_request(status=status)
        assert req.can_withdraw == (Status.WITHDRAWN in TRANSITIONS[status]), status
    for status in (Status.EXECUTING, Status.COMPLETED, Status.FAILED):
        assert not new_request(status=status).can_withdraw


def test_a_full_journey_leaves_a_complete_timeline():
    req = new_request()
    steps = [(Status.CHECKED, "system", "app", "pre-checks passed"),
             (Status.AWAITING_CONFIRMATION, "system", "app", "impact shown"),
             (Status.IN_REVIEW, "13800138000", "app", "refund over review threshold"),
             (Status.EXECUTING, "agent:A017", "staff", "approved"),
             (Status.COMPLETED, "system", "worker", "all steps done")]
    for i, (to, actor, channel, reason) in enumerate(steps, start=1):
        req.transition(to, T0 + timedelta(minutes=i), actor, channel, reason)
    assert [(e.from_status, e.to_status) for e in req.timeline] == [
        (None, "submitted"), ("submitted", "checked"), ("checked", "awaiting_confirmation"),
        ("awaiting_confirmation", "in_review"), ("in_review", "executing"), ("executing", "completed")]
    assert all(e.at.tzinfo is not None and e.actor and e.channel for e in req.timeline)
    assert [e.at for e in req.timeline] == sorted(e.at for e in req.timeline)


def test_request_kinds_match_domain_md():
    assert {k.value for k in RequestKind} == {"close_line", "unsubscribe", "cancel_renewal", "withdraw", "reclaim"}
    assert {k for k in RequestKind if k.targets_subscription} == {
        RequestKind.UNSUBSCRIBE, RequestKind.CANCEL_RENEWAL, RequestKind.WITHDRAW}


def test_the_readme_diagram_lists_exactly_the_tables_edges():
    diagram = lifecycle.mermaid_diagram()
    lines = diagram.splitlines()
    assert lines[0] == "stateDiagram-v2"
    edges = set()
    for line in lines[1:]:
        m = re.fullmatch(r"\s+(\[\*\]|\w+) --> (\[\*\]|\w+)", line)
        assert m, f"unexpected diagram line {line!r}"
        edges.add((m.group(1), m.group(2)))
    table = {(str(s), str(d)) for s, dsts in TRANSITIONS.items() for d in dsts}
    assert {e for e in edges if "[*]" not in e} == table
    assert {d for s, d in edges if s == "[*]"} == {"submitted"}
    assert {s for s, d in edges if d == "[*]"} == {str(t) for t in TERMINAL}
    assert len(lines) - 1 == len(edges), "no edge is listed twice"


def test_the_readme_prints_the_transition_table_as_it_is():
    """The lifecycle diagram a newcomer reads in the README is the table the code enforces."""
    from pathlib import Path

    from canceldesk.domain.lifecycle import mermaid_diagram
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```mermaid\n", 1)[1].split("```", 1)[0].strip()
    assert block == mermaid_diagram().strip()


def test_an_open_request_covers_a_new_one_on_the_same_subscription_and_a_closure_covers_everything():
    from types import SimpleNamespace as Open
    from canceldesk.domain.lifecycle import covering_request
    unsub = Open(id="r1", kind="unsubscribe", subscription_id="S1", tracking_no="CD1")
    closure = Open(id="r2", kind="close_line", subscription_id=None, tracking_no="CD2")
    assert covering_request("unsubscribe", "S1", [unsub]) == "CD1"
    assert covering_request("unsubscribe", "S2", [unsub]) is None
    assert covering_request("close_line", None, [unsub]) == "CD1"       # a closure waits for what is open
    assert covering_request("cancel_renewal", "S9", [closure]) == "CD2"  # and covers everything on the line
    assert covering_request("unsubscribe", "S1", [unsub], ignore_request="r1") is None
