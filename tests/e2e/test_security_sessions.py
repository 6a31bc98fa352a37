"""Sessions end when nobody is there, a new password ends the old sessions, and the OTP endpoint
is no existence oracle by time (issue 8)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from canceldesk.adapters import orm
from canceldesk.service_layer import auth, delivery
from canceldesk.service_layer.importer import import_bytes
from secworld import STAFF_PASSWORD, STORE_1, build_world, otp_login, staff_login

NOBODY = "13700137000"


@pytest.fixture
def w(tmp_path):
    world = build_world(f"sqlite:///{tmp_path}/sessions.db")
    yield world
    world.c.dispose()


def me(w, token: str):
    return w.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_staff_sessions_end_after_15_idle_minutes_subscribers_after_30(w):
    agent, sub = staff_login(w.client, "agent1"), otp_login(w.client, "13800138000")
    w.clock.advance(minutes=14)
    assert me(w, agent).status_code == 200 and me(w, sub).status_code == 200  # used: the idle clock restarts
    w.clock.advance(minutes=16)
    r = me(w, agent)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "SESSION_IDLE")
    assert me(w, sub).status_code == 200  # 16 idle minutes are fine for a subscriber
    w.clock.advance(minutes=31)
    assert (me(w, sub).status_code, me(w, sub).json()["error"]["code"]) == (401, "SESSION_INVALID")
    # the absolute limit stays: a session in use still ends after the token TTL (60 minutes)
    busy = otp_login(w.client, "13800138000")
    for _ in range(6):
        w.clock.advance(minutes=10)
        last = me(w, busy)
    assert last.status_code == 401


def test_a_new_staff_password_ends_the_accounts_sessions(w):
    agent = staff_login(w.client, "agent1")
    auth.create_staff_user(w.c, "agent1", STAFF_PASSWORD, "agent", "王柜员", store=STORE_1)  # unchanged
    assert me(w, agent).status_code == 200
    auth.create_staff_user(w.c, "agent1", "a brand new passphrase", "agent", "王柜员", store=STORE_1)
    assert me(w, agent).status_code == 401
    assert me(w, w.tokens["agent2"]).status_code == 200  # nobody else's


def test_a_new_service_password_ends_the_owners_sessions(w):
    line = {"msisdn": "13800138000", "customer_id": "C001", "status": "active", "cash_balance": 5000,
            "gift_balance": 1000, "deposit": 0, "unbilled_usage": 320, "arrears": 0, "primary_msisdn": None,
            "port_out_pending": False, "contract": None, "bindings": []}
    import_bytes(w.c, json.dumps({"lines": [{**line, "service_password": "135790"}]}).encode())  # the same one
    assert me(w, w.tokens["sub1"]).status_code == 200
    import_bytes(w.c, json.dumps({"lines": [{**line, "service_password": "864209"}]}).encode())
    assert me(w, w.tokens["sub1"]).status_code == 401
    assert me(w, w.tokens["sub2"]).status_code == 200


def test_known_and_unknown_numbers_do_the_same_outbox_work(w):
    def rows():
        with w.c.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(orm.outbox)).scalar_one()
    before = rows()
    assert w.client.post("/v1/auth/otp", json={"msisdn": "13900139000"}).status_code == 202
    assert rows() == before + 1
    assert w.client.post("/v1/auth/otp", json={"msisdn": NOBODY}).status_code == 202
    assert rows() == before + 2
    with w.c.engine.connect() as conn:
        void = conn.execute(select(orm.outbox).order_by(orm.outbox.c.id.desc()).limit(1)).mappings().one()
    assert (void["channel"], void["to"], void["event"]) == ("void", "-", "otp_void")
    assert not any(ch.isdigit() for ch in void["text"])  # no code, no number
    delivery.deliver_pending(w.c)
    with w.c.engine.connect() as conn:
        assert conn.execute(select(orm.outbox.c.sent_at).where(orm.outbox.c.id == void["id"])).scalar() is not None
    assert w.client.get("/dev/outbox", params={"to": NOBODY}).json()["messages"] == []
