"""The audit chain, failure locks and admin-login ending run on the ports (service_layer/ports.py)
with the in-memory stores of tests/fakes.py: the rules live in the service layer, not in SQL."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from canceldesk.adapters.crypto import KeyRing
from canceldesk.bootstrap import load_policy
from canceldesk.service_layer import audit, auth, numbers
from fakes import FakeContainer, Store
from support import Clock, noon

NOW = noon(date(2026, 11, 12))


@pytest.fixture()
def c(monkeypatch) -> FakeContainer:
    keyring = KeyRing("unit-test-secret-" + "k" * 40)
    monkeypatch.setattr(audit, "_keyring", keyring)  # what bootstrap's audit.use_keyring does
    return FakeContainer(pack=load_policy("cn"), clock=Clock(NOW), store=Store(), keyring=keyring)


def _event(n: int) -> dict:
    return {"at": NOW + timedelta(seconds=n), "actor": "staff:agent", "event": f"e{n}", "subject": None}


def test_appended_rows_form_a_chain_that_verifies_and_an_edit_is_named(c):
    with c.uow() as uow:
        audit.append(uow, [_event(1), _event(2)])
        audit.append(uow, [_event(3)])
    rows = c.store.audit_rows
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert [r["prev_hash"] for r in rows[1:]] == [rows[0]["hash"], rows[1]["hash"]]
    assert audit.head(c) == {"seq": 3, "hash": rows[2]["hash"]}
    assert audit.verify_chain(c) == []
    rows[1]["actor"] = "staff:someone-else"
    assert audit.verify_chain(c) == [{"id": 2, "seq": 2, "problem": "edited: its contents no longer match its MAC"}]


def test_a_recorded_event_is_kept_only_when_its_transaction_commits(c):
    with c.uow() as uow:
        audit.record(uow, at=NOW, actor="anonymous", event="login_failed", subject="138****8000")
    assert c.store.audit == []  # left without commit: forgotten
    with c.uow() as uow:
        audit.record(uow, at=NOW, actor="anonymous", event="login_failed", subject="138****8000")
        uow.commit()
    assert [e["event"] for e in c.store.audit] == ["login_failed"]


def test_five_failures_lock_and_the_next_lockout_within_a_day_lasts_twice_as_long(c):
    with c.uow() as uow:
        assert [auth.register_failure(uow, "otp:13800138000", NOW, 5, 15) for _ in range(5)] == [False] * 4 + [True]
        assert auth.is_locked(uow, "otp:13800138000", NOW + timedelta(minutes=14))
        assert not auth.is_locked(uow, "otp:13800138000", NOW + timedelta(minutes=15))
        later = NOW + timedelta(minutes=20)
        assert [auth.register_failure(uow, "otp:13800138000", later, 5, 15) for _ in range(5)][-1] is True
        assert c.store.locks["otp:13800138000"]["locked_until"] == later + timedelta(minutes=30)
        auth.clear_failures(uow, "otp:13800138000")
        assert not auth.is_locked(uow, "otp:13800138000", later)


def test_closing_an_admins_number_ends_that_login_and_tells_the_other_admin(c):
    c.store.admin_logins = [("E1", "13800000001"), ("E1", "13800000002")]
    with c.uow() as uow:
        assert numbers.end_admin_logins(uow, "13800000001", NOW, "zh") == 1
        uow.commit()
    assert c.store.admin_logins == [("E1", "13800000002")]
    assert [(m["to"], m["event"]) for m in c.store.outbox] == [("13800000002", "admin_login_ended")]
    (event,) = c.store.audit
    assert event["event"] == "admin_login_ended" and event["subject"] == "enterprise:E1"
    assert event["details"]["admin"] != "13800000001"  # masked, never the full number
