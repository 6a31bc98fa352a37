"""Step-up for what cannot be undone (policy pack [step_up]), its per-factor lock and owner
notification, and the counter's in-person ID check that replaces it for agents."""
from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from canceldesk.adapters import orm
from canceldesk.bootstrap import load_policy
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import auth
from secworld import OTHER_ID, STAFF_PASSWORD, STORE_1, TODAY, bearer, otp_login, staff_login
from support import PERSON_ID, Clock, make_container, noon, seed

CLOSE = {"kind": "close_line", "msisdn": "13800138000", "acknowledged_warnings": ["GIFT_BALANCE_FORFEIT"]}


@pytest.fixture()
def world(tmp_path):
    clock = Clock(noon(TODAY))
    c = make_container(f"sqlite:///{tmp_path}/stepup.db", clock=clock)
    seed(c, TODAY)
    client = TestClient(create_app(c))
    yield c, client, clock, bearer(otp_login(client, "13800138000"))
    c.dispose()


def confirm(client, h, no, verification=None):
    return client.post(f"/v1/requests/{no}/confirm", json={"verification": verification} if verification else None,
                       headers=h)


def new_request(client, h, body=CLOSE) -> str:
    r = client.post("/v1/requests", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()["tracking_no"]


def events(c) -> list[dict]:
    with c.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(orm.audit_log).order_by(orm.audit_log.c.id)).mappings()]


def test_every_pack_asks_a_second_factor_to_close_a_line():
    for code in ("cn", "eu", "us-ca"):
        assert set(load_policy(code).step_up_factors("close_line")) == {"id_last6", "service_password"}
        assert load_policy(code).step_up_factors("unsubscribe") == ()


def test_cn_close_line_needs_a_second_factor_unsubscribe_does_not(world):
    c, client, _, h = world
    for sub, kind in (("S-VIDEO", "cancel_renewal"), ("S-CRBT", "unsubscribe")):
        no = new_request(client, h, {"kind": kind, "msisdn": "13800138000", "subscription_id": sub})
        assert confirm(client, h, no).json()["status"] == "completed"
    no = new_request(client, h)
    r = confirm(client, h, no)
    assert r.status_code == 403 and r.json()["error"]["code"] == "STEP_UP_REQUIRED"
    assert set(r.json()["error"]["details"]["factors"]) == {"id_last6", "service_password"}
    assert confirm(client, h, no, {"id_last6": PERSON_ID[-6:].lower()}).json()["status"] == "completed"


def test_the_factors_come_from_the_policy_pack(world):
    c, client, _, h = world
    c.pack = dataclasses.replace(c.pack, step_up={"cancel_renewal": ("service_password",)})
    no = new_request(client, h, {"kind": "cancel_renewal", "msisdn": "13800138000", "subscription_id": "S-VIDEO"})
    assert confirm(client, h, no).json()["error"]["code"] == "STEP_UP_REQUIRED"
    assert confirm(client, h, no, {"id_last6": PERSON_ID[-6:]}).json()["error"]["code"] == "STEP_UP_REQUIRED"
    assert confirm(client, h, no, {"service_password": "135790"}).json()["status"] == "completed"
    close = new_request(client, h)  # this pack asks nothing for close_line
    assert confirm(client, h, close).json()["status"] == "completed"


def test_five_failures_lock_that_factor_notify_the_owner_and_leave_the_other(world):
    c, client, clock, h = world
    no = new_request(client, h)
    for i in range(5):
        r = confirm(client, h, no, {"id_last6": "000000"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "STEP_UP_FAILED", i
    r = confirm(client, h, no, {"id_last6": PERSON_ID[-6:]})  # right, but locked now
    assert r.json()["error"]["code"] == "STEP_UP_LOCKED"
    texts = [m for m in client.get("/dev/outbox", params={"to": "13800138000"}).json()["messages"]
             if m["event"] == "step_up_locked"]
    assert len(texts) == 1 and "15" in texts[0]["text"]
    kinds = [e["event"] for e in events(c)]
    assert kinds.count("step_up_failed") == 5 and kinds.count("step_up_locked") == 1
    assert confirm(client, h, no, {"service_password": "135790"}).json()["status"] == "completed"


def test_when_every_factor_is_locked_nothing_gets_through_until_the_lock_ends(world):
    c, client, clock, h = world
    no = new_request(client, h)
    for _ in range(5):
        confirm(client, h, no, {"id_last6": "000000", "service_password": "000000"})
    r = confirm(client, h, no, {"service_password": "135790"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "STEP_UP_LOCKED"
    clock.advance(minutes=15, seconds=1)
    assert confirm(client, h, no, {"service_password": "135790"}).json()["status"] == "completed"


def test_service_passwords_written_by_the_importer_are_checked_too(world):
    c, client, _, h = world
    from canceldesk.service_layer.importer import hash_service_password
    with c.engine.begin() as conn:
        conn.execute(update(orm.lines).where(orm.lines.c.msisdn == "13800138000")
                     .values(service_password_hash=hash_service_password(c, "864200")))
    no = new_request(client, h)
    assert confirm(client, h, no, {"service_password": "135790"}).json()["error"]["code"] == "STEP_UP_FAILED"
    assert confirm(client, h, no, {"service_password": "864200"}).json()["status"] == "completed"


def test_an_agent_acts_with_a_checked_document_and_the_timeline_names_agent_and_store(world):
    c, client, _, _ = world
    auth.create_staff_user(c, "agent1", STAFF_PASSWORD, "agent", "王柜员", store=STORE_1)
    a = bearer(staff_login(client, "agent1"))
    body = {**CLOSE, "in_person_document": {"type": "cn_ric", "number": PERSON_ID}}
    # a malformed number is refused by its checksum, before anything is written
    bad = client.post("/v1/requests", json={**CLOSE, "in_person_document": {"type": "cn_ric", "number": PERSON_ID[:-1] + "1"}},
                      headers=a)
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "in_person_document.number"
    # a valid document of someone else: the request is refused as NOT_OWNER
    wrong = client.post("/v1/requests", json={**CLOSE, "in_person_document": {"type": "cn_ric", "number": OTHER_ID}},
                        headers=a).json()
    assert wrong["status"] == "rejected" and wrong["reject_codes"] == ["NOT_OWNER"]
    r = client.post("/v1/requests", json=body, headers=a)
    assert r.status_code == 201 and r.json()["status"] == "awaiting_confirmation", r.text
    done = confirm(client, a, r.json()["tracking_no"]).json()
    assert done["status"] == "completed"
    actors = {t["actor"] for t in done["timeline"]}
    assert f"agent:agent1@{STORE_1}" in actors and {t["channel"] for t in done["timeline"]} >= {"counter"}
    checks = [e for e in events(c) if e["event"] == "in_person_id_check"]
    assert [(e["details"]["match"], e["details"]["document_masked"], e["details"]["store"]) for e in checks] == [
        (False, "310************230", STORE_1), (True, "110************02X", STORE_1)]
    assert all(PERSON_ID not in str(e) and OTHER_ID not in str(e) for e in events(c))


def test_back_office_cannot_confirm_in_any_channel(world):
    """Not only the API (deps) but the use case itself refuses an admin or reviewer confirming for a
    subscriber: that would skip the subscriber's step-up (the pages and other channels call it too)."""
    from canceldesk.service_layer import requests as svc
    from canceldesk.service_layer.errors import Forbidden, NotFound
    from canceldesk.service_layer.principal import Principal
    c, client, _, h = world
    no = new_request(client, h)
    for role in ("admin", "reviewer"):
        with pytest.raises(Forbidden):
            svc.confirm(c, Principal(kind="staff", id=role, role=role), no)
    with pytest.raises(NotFound):  # an agent, even of a store, never reaches a subscriber's own request
        svc.confirm(c, Principal(kind="staff", id="a", role="agent", store=STORE_1), no)
    with c.uow() as uow:
        assert uow.repo.request(no).status == "awaiting_confirmation"


def test_repeated_mismatched_id_checks_pause_the_agent(world):
    """The in-person check is no oracle: after 5 mismatches the agent's checks pause (15 min), so
    the hidden birth date of a masked ID (110105********002X) cannot be guessed through it."""
    from canceldesk.service_layer import customers
    from canceldesk.service_layer.errors import TooManyRequests
    from canceldesk.service_layer.principal import Principal
    c, _, clock, _ = world
    agent = Principal(kind="staff", id="agent1", role="agent", store=STORE_1)

    def ric(body17: str) -> str:
        weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights)) % 11]

    assert customers.check_identity(c, agent, "C001", "cn_ric", PERSON_ID) == {"match": True}
    for day in range(1, 6):  # guessing the birth date behind the mask
        assert customers.check_identity(c, agent, "C001", "cn_ric", ric(f"1101051949120{day}002")) == {"match": False}
    with pytest.raises(TooManyRequests):
        customers.check_identity(c, agent, "C001", "cn_ric", PERSON_ID)
    assert "id_check_locked" in [e["event"] for e in events(c)]
    clock.advance(minutes=16)
    assert customers.check_identity(c, agent, "C001", "cn_ric", PERSON_ID) == {"match": True}


def test_a_staff_precheck_is_no_id_oracle_either(world):
    """Pre-checks and requests compare a presented document too: they count against the same pause."""
    c, client, clock, _ = world
    auth.create_staff_user(c, "agent1", STAFF_PASSWORD, "agent", "王柜员", store=STORE_1)
    a = bearer(staff_login(client, "agent1"))
    body = {"kind": "close_line", "msisdn": "13800138000"}
    for day in range(1, 6):
        body17 = f"1101051949120{day}002"
        weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        guess = body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights)) % 11]
        r = client.post("/v1/prechecks", json={**body, "in_person_document": {"type": "cn_ric", "number": guess}},
                        headers=a)
        assert "NOT_OWNER" in [b["code"] for b in r.json()["blockers"]]
    r = client.post("/v1/prechecks", json={**body, "in_person_document": {"type": "cn_ric", "number": PERSON_ID}},
                    headers=a)
    assert r.status_code == 429 and r.json()["error"]["code"] == "ID_CHECK_LOCKED"
    r = client.post("/v1/requests", json={**body, "in_person_document": {"type": "cn_ric", "number": PERSON_ID}},
                    headers=a)
    assert r.status_code == 429
    clock.advance(minutes=16)
    a = bearer(staff_login(client, "agent1"))  # 16 idle minutes ended the staff session too (issue 8)
    r = client.post("/v1/prechecks", json={**body, "in_person_document": {"type": "cn_ric", "number": PERSON_ID}},
                    headers=a)
    assert r.status_code == 200 and "NOT_OWNER" not in [b["code"] for b in r.json()["blockers"]]
