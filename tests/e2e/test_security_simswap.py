"""SIM-swap aware notices and the fleet closure's second factor (issue 8).

Attacks reproduced: an attacker holding a swapped SIM asks to close the number and guesses the
second factor — the owner hears of it only on that very SIM; a hijacked enterprise admin closes
the company's fleet in one click."""
from __future__ import annotations

import pytest

from canceldesk.domain.model import EnterpriseAdmin, Line
from secworld import build_world, otp_from_outbox

SWAPPED = "13800138000"      # the attacker has this SIM
OWNERS_OTHER = "13800138111"  # the real owner's other line
ADMIN, OTHER_ADMIN = "13800000001", "13800000009"
FLEET = [f"1865910300{i}" for i in range(8)]


@pytest.fixture
def w(tmp_path):
    world = build_world(f"sqlite:///{tmp_path}/simswap.db")
    with world.c.uow() as uow:
        uow.session.add(Line(msisdn=OWNERS_OTHER, customer_id="C001"))
        for m in FLEET:
            uow.session.add(Line(msisdn=m, customer_id="E001", cash_balance=100))
        company = uow.repo.customer("E001")
        company.admins.append(EnterpriseAdmin(msisdn=OTHER_ADMIN, name="孙七"))
        uow.commit()
    yield world
    world.c.dispose()


def outbox(w, to: str, event: str) -> list[str]:
    return [m["text"] for m in w.client.get("/dev/outbox", params={"to": to}).json()["messages"] if m["event"] == event]


def test_a_closure_request_and_a_step_up_lockout_reach_the_owners_other_line(w):
    assert w.client.post(f"/v1/requests/{w.objects['req_sub1']}/withdraw", headers=w.h("sub1")).status_code == 200
    r = w.client.post("/v1/requests", json={"kind": "close_line", "msisdn": SWAPPED,
                                            "acknowledged_warnings": ["GIFT_BALANCE_FORFEIT"]}, headers=w.h("sub1"))
    tn = r.json()["tracking_no"]
    assert outbox(w, OWNERS_OTHER, "closure_requested") == [
        f"【canceldesk】您名下号码 138****8000 的销户申请 {tn} 已提交。如非本人操作，请立即撤回申请并联系客服。"]
    for _ in range(5):  # the attacker guesses the second factor
        r = w.client.post(f"/v1/requests/{tn}/confirm", json={"verification": {"id_last6": "000000"}}, headers=w.h("sub1"))
    assert r.json()["error"]["code"] == "STEP_UP_FAILED" and "id_last6" in r.json()["error"]["details"]["locked"]
    assert outbox(w, OWNERS_OTHER, "step_up_locked_elsewhere") == [
        "【canceldesk】您名下号码 138****8000 的身份验证连续失败，销户功能已锁定。如非本人操作，请立即联系客服。"]
    assert len(outbox(w, SWAPPED, "step_up_locked")) == 1  # and on the number itself, as before


def _prechecked_batch(w, lines: list[str]) -> str:
    r = w.client.post("/v1/enterprise/batches", json={"msisdns": lines}, headers=w.h("ea1"))
    assert r.status_code == 202, r.text
    batch = r.json()["id"]
    st = w.client.get(f"/v1/enterprise/batches/{batch}", headers=w.h("ea1")).json()
    assert (st["phase"], st["eligible"]) == ("prechecked", len(lines)), st
    return batch


def test_closing_a_fleet_needs_a_fresh_code_and_the_count_and_other_admins_are_told(w):
    batch = _prechecked_batch(w, FLEET)
    url = f"/v1/enterprise/batches/{batch}/submit"
    r = w.client.post(url, json={}, headers=w.h("ea1"))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "FLEET_STEP_UP_REQUIRED")
    assert r.json()["error"]["details"] == {"count": 8, "over": 5, "otp_sent_to": "138****0001"}
    code = otp_from_outbox(w.client, ADMIN)
    r = w.client.post(url, json={"otp": code, "confirm_count": 7}, headers=w.h("ea1"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "COUNT_MISMATCH")
    wrong = "000000" if code != "000000" else "111111"
    r = w.client.post(url, json={"otp": wrong, "confirm_count": 8}, headers=w.h("ea1"))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "FLEET_STEP_UP_FAILED")
    assert w.client.get(f"/v1/enterprise/batches/{batch}", headers=w.h("ea1")).json()["phase"] == "prechecked"
    assert outbox(w, OTHER_ADMIN, "fleet_closure") == []
    r = w.client.post(url, json={"otp": code, "confirm_count": 8}, headers=w.h("ea1"))
    assert r.status_code == 202, r.text
    assert outbox(w, OTHER_ADMIN, "fleet_closure") == [
        f"【canceldesk】企业管理员 138****0001 已确认批量销户 8 个号码（批次 {batch[:8]}）。如非授权操作，请立即联系客服。"]
    st = w.client.get(f"/v1/enterprise/batches/{batch}", headers=w.h("ea1")).json()
    assert (st["phase"], st["outcome"]) == ("submitted", "completed"), st
    # the code was used: it does not open a second batch
    second = _prechecked_batch(w, ["18659101002"] + FLEET[:0])
    assert w.client.post(f"/v1/enterprise/batches/{second}/submit", json={}, headers=w.h("ea1")).status_code == 202


def test_one_call_batches_of_a_fleet_stop_for_the_second_factor(w):
    r = w.client.post("/v1/enterprise/batches", json={"msisdns": FLEET, "submit": True}, headers=w.h("ea1"))
    assert r.status_code == 202
    st = w.client.get(f"/v1/enterprise/batches/{r.json()['id']}", headers=w.h("ea1")).json()
    assert st["phase"] == "prechecked"  # not closed: a person has to give the code and the count
