"""One message per event: what each journey sends to the subscriber's phone, counted exactly."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from sqlalchemy import select

from canceldesk.adapters import orm
from canceldesk.demo.data import DEMO_LOGINS
from canceldesk.domain.lifecycle import Request
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import auth
from web_support import csrf_of, demo_container, otp_from_outbox, page_login

CLEAN = "13800138000"
ADMIN = "13905912876"
FLEET = [f"1865910{1000 + i:04d}" for i in range(1, 51)]
ID_LAST6 = next(d["id_last6"] for d in DEMO_LOGINS if d["msisdn"] == CLEAN)


@pytest.fixture()
def world(tmp_path):
    c = demo_container(tmp_path / "msgs.db", fleet_step_up_over=100)  # the fleet second factor: test_security_simswap
    yield c, TestClient(create_app(c))
    c.dispose()


def events(client, msisdn: str, since: int = 0) -> list[str]:
    msgs = client.get("/dev/outbox", params={"to": msisdn}).json()["messages"]
    return [m["event"] for m in msgs if m["event"] != "otp"][since:]


def texts(client, msisdn: str) -> list[str]:
    return [m["text"] for m in client.get("/dev/outbox", params={"to": msisdn}).json()["messages"] if m["event"] != "otp"]


def end_one_step(client, kind: str, sub: str, nonce: str) -> str:
    html = client.get(f"/lines/{CLEAN}").text
    r = client.post(f"/lines/{CLEAN}/end", data={"csrf": csrf_of(html), "kind": kind, "subscription_id": sub,
                                                 "nonce": nonce}, follow_redirects=True)
    assert r.status_code == 200, r.text
    return re.search(r'data-status="(\w+)"', r.text).group(1)


def test_a_one_click_unsubscribe_sends_one_accepted_and_one_completed_message(world):
    c, client = world
    page_login(client, CLEAN)
    assert end_one_step(client, "unsubscribe", f"S-{CLEAN}-VAS-DATA-10G", "m1") == "completed"
    assert events(client, CLEAN) == ["accepted", "completed"]
    accepted = texts(client, CLEAN)[0]
    assert "需要您确认" not in accepted and accepted.startswith("【canceldesk】您的业务退订申请已受理")


def test_a_one_step_ending_is_accepted_in_the_transaction_that_creates_it(world):
    c, client = world
    page_login(client, CLEAN)
    end_one_step(client, "unsubscribe", f"S-{CLEAN}-VAS-CRBT", "m2")
    with c.uow() as uow:
        rid = uow.session.execute(select(orm.requests.c.id).where(orm.requests.c.msisdn == CLEAN)).scalar_one()
        timeline = [(e.to_status, e.at) for e in uow.session.get(Request, rid).timeline]
    assert [t[0] for t in timeline] == ["submitted", "checked", "awaiting_confirmation", "executing", "completed"]
    assert len({t[1] for t in timeline[:4]}) == 1      # created and accepted in one transaction


def test_stopping_a_renewal_sends_one_accepted_and_one_completed_message(world):
    c, client = world
    page_login(client, CLEAN)
    assert end_one_step(client, "cancel_renewal", f"S-{CLEAN}-VAS-CRBT", "m3") == "completed"
    assert events(client, CLEAN) == ["accepted", "completed"]


def test_closing_a_line_sends_no_please_confirm_to_the_person_confirming_on_the_page(world):
    c, client = world
    page_login(client, CLEAN)
    html = client.get(f"/lines/{CLEAN}/close").text
    r = client.post(f"/lines/{CLEAN}/close", data={"csrf": csrf_of(html), "nonce": "m4"})
    assert r.status_code == 200
    no = re.search(r'id="tracking-no">(\w+)<', r.text).group(1)
    assert events(client, CLEAN) == []
    r = client.post(f"/requests/{no}/confirm", data={"csrf": csrf_of(html), "id_last6": ID_LAST6}, follow_redirects=True)
    assert re.search(r'data-status="(\w+)"', r.text).group(1) == "completed"
    assert events(client, CLEAN) == ["accepted", "completed"]


def test_an_enterprise_batch_of_50_lines_sends_one_message_to_its_admin(world):
    c, client = world
    auth.send_otp(c, ADMIN)
    token = auth.exchange_otp(c, ADMIN, otp_from_outbox(client, ADMIN), as_role="enterprise_admin")["token"]
    r = client.post("/v1/enterprise/batches", json={"msisdns": FLEET, "submit": True, "reason": "项目结束"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202, r.text
    assert sum(len(events(client, m)) for m in FLEET) == 0
    admin = [m for m in client.get("/dev/outbox", params={"to": ADMIN}).json()["messages"] if m["event"] != "otp"]
    assert [m["event"] for m in admin] == ["batch_accepted"]
    assert "47 个号码已受理，3 个未能办理" in admin[0]["text"]
