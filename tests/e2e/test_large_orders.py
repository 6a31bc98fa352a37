"""A large order is told to the enterprise's admins (CHANNELS.md: the partner API adds no interactive
step, so a TMF622 order ending more than product_orders.LARGE_ORDER_OVER lines — 1,000 — is announced
at once to every admin, one SMS each, in the language that admin last used; a console batch of a fleet
tells the other admins through the second factor's notice, in their language too). The threshold is
lowered to 3 here so that a 4-line order is "large"."""
from __future__ import annotations

import pytest

from canceldesk.domain.model import EnterpriseAdmin, Line
from canceldesk.service_layer import partner_keys, product_orders
from secworld import bearer, build_world, otp_from_outbox, otp_login

ADMIN, ZH_ADMIN, EN_ADMIN = "13800000001", "13800000008", "13800000009"
FLEET = [f"1865910400{i}" for i in range(9)]
TMF = "/tmf-api/productOrderingManagement/v4"


@pytest.fixture
def w(tmp_path, monkeypatch):
    monkeypatch.setattr(product_orders, "LARGE_ORDER_OVER", 3)
    world = build_world(f"sqlite:///{tmp_path}/large.db")
    with world.c.uow() as uow:
        for m in FLEET:
            uow.session.add(Line(msisdn=m, customer_id="E001", cash_balance=100))
        company = uow.repo.customer("E001")
        company.admins.append(EnterpriseAdmin(msisdn=ZH_ADMIN, name="孙七"))
        company.admins.append(EnterpriseAdmin(msisdn=EN_ADMIN, name="Olivia"))
        uow.commit()
    # the English-speaking admin used the console in English once (a request of theirs says so)
    world.tokens["en"] = otp_login(world.client, EN_ADMIN)
    r = world.client.post("/v1/requests?lang=en", json={"kind": "close_line", "msisdn": FLEET[8]},
                          headers=world.h("en"))
    assert r.status_code == 201, r.text
    yield world
    world.c.dispose()


def outbox(w, to: str, event: str) -> list[str]:
    return [m["text"] for m in w.client.get("/dev/outbox", params={"to": to}).json()["messages"] if m["event"] == event]


def order(lines: list[str]) -> dict:
    return {"productOrderItem": [{"id": str(i), "action": "delete", "product": {"id": n}}
                                 for i, n in enumerate(lines, start=1)]}


def test_a_large_partner_order_is_told_to_every_admin_once_in_their_language(w):
    key = partner_keys.issue(w.c, "E001", "CRM", "test")
    r = w.client.post(f"{TMF}/productOrder", json=order(FLEET[:4]), headers=bearer(key["key"]))
    assert r.status_code == 201, r.text
    ref, who = r.json()["id"][:8], f"cdpk_{key['id']}_…"
    zh = (f"【canceldesk】贵企业通过合作伙伴接口提交了批量订单 {ref}，将结束 4 个号码或业务（提交方：密钥 {who}）。"
          "如非授权操作，请立即在企业控制台吊销该密钥并联系客服。")
    assert outbox(w, ADMIN, "large_order") == [zh]
    assert outbox(w, ZH_ADMIN, "large_order") == [zh]
    assert outbox(w, EN_ADMIN, "large_order") == [
        f"[canceldesk] A partner API order {ref} for your company ends 4 lines or services (placed by key {who}). "
        "If this was not authorised, revoke the key in the enterprise console and call us now."]
    assert outbox(w, "13700000002", "large_order") == []  # another company's admin hears nothing


def test_an_admins_own_large_order_is_told_to_the_others_not_to_them(w):
    r = w.client.post(f"{TMF}/productOrder", json=order(FLEET[:5]), headers=w.h("ea1"))
    assert r.status_code == 201, r.text
    ref = r.json()["id"][:8]
    assert outbox(w, ADMIN, "large_order") == []
    assert outbox(w, ZH_ADMIN, "large_order") == [
        f"【canceldesk】贵企业通过合作伙伴接口提交了批量订单 {ref}，将结束 5 个号码或业务（提交方：138****0001）。"
        "如非授权操作，请立即在企业控制台吊销该密钥并联系客服。"]
    assert outbox(w, EN_ADMIN, "large_order") == [
        f"[canceldesk] A partner API order {ref} for your company ends 5 lines or services (placed by 138****0001). "
        "If this was not authorised, revoke the key in the enterprise console and call us now."]


def test_an_order_at_the_threshold_is_not_announced(w):
    key = partner_keys.issue(w.c, "E001", "CRM", "test")["key"]
    r = w.client.post(f"{TMF}/productOrder", json=order(FLEET[:3] + ["18659102000"]), headers=bearer(key))
    assert r.status_code == 201  # 3 of the company's lines (the 4th is another company's: refused)
    assert [outbox(w, m, "large_order") for m in (ADMIN, ZH_ADMIN, EN_ADMIN)] == [[], [], []]


def test_a_console_fleet_closure_tells_the_other_admins_in_their_language(w):
    r = w.client.post("/v1/enterprise/batches", json={"msisdns": FLEET[:6]}, headers=w.h("ea1"))
    batch = r.json()["id"]
    url = f"/v1/enterprise/batches/{batch}/submit"
    assert w.client.post(url, json={}, headers=w.h("ea1")).status_code == 403
    r = w.client.post(url, json={"otp": otp_from_outbox(w.client, ADMIN), "confirm_count": 6}, headers=w.h("ea1"))
    assert r.status_code == 202, r.text
    assert outbox(w, ZH_ADMIN, "fleet_closure") == [
        f"【canceldesk】企业管理员 138****0001 已确认批量销户 6 个号码（批次 {batch[:8]}）。如非授权操作，请立即联系客服。"]
    assert outbox(w, EN_ADMIN, "fleet_closure") == [
        f"[canceldesk] Enterprise admin 138****0001 confirmed closing 6 lines (batch {batch[:8]}). "
        "If this was not authorised, call us now."]
    assert outbox(w, ADMIN, "fleet_closure") == []
