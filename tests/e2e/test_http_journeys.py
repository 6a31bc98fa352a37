"""End-to-end journeys over HTTP: what a subscriber does with curl and the README."""
from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from canceldesk.entrypoints.api.app import create_app
from support import PG_URL, Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, tmp_path):
    clock = Clock(noon(TODAY))
    url = f"sqlite:///{tmp_path}/e2e.db" if request.param == "sqlite" else PG_URL
    c = make_container(url, clock=clock)
    seed(c, TODAY)
    client = TestClient(create_app(c))
    yield c, client, clock
    c.dispose()


def login(client, msisdn: str) -> dict:
    assert client.post("/v1/auth/otp", json={"msisdn": msisdn}).status_code == 202
    msgs = client.get("/dev/outbox", params={"to": msisdn}).json()["messages"]
    code = re.search(r"\b(\d{6})\b", [m for m in msgs if m["event"] == "otp"][-1]["text"]).group(1)
    r = client.post("/v1/auth/token", json={"msisdn": msisdn, "otp": code})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_unsubscribe_a_vas_completes_with_a_verifiable_receipt(world):
    c, client, _ = world
    h = login(client, "+86 138-0013-8000")
    lines = client.get("/v1/lines", headers=h).json()["lines"]
    assert [l["msisdn"] for l in lines] == ["13800138000"]
    subs = client.get("/v1/lines/13800138000/subscriptions", headers=h).json()["subscriptions"]
    assert {s["id"] for s in subs} >= {"S-CRBT", "S-VIDEO"}

    body = {"kind": "unsubscribe", "msisdn": "13800138000", "subscription_id": "S-CRBT"}
    pre = client.post("/v1/prechecks", json=body, headers=h).json()
    assert pre["eligible"] is True and pre["blockers"] == []
    assert pre["impact"]["access_ends_at"].startswith("2026-12-01T00:00:00+08:00")

    r = client.post("/v1/requests", json=body, headers={**h, "Idempotency-Key": "k1"})
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "awaiting_confirmation"
    assert [t["to"] for t in req["timeline"]] == ["submitted", "checked", "awaiting_confirmation"]

    again = client.post("/v1/requests", json=body, headers={**h, "Idempotency-Key": "k1"})
    assert again.status_code == 200 and again.json()["tracking_no"] == req["tracking_no"]
    other_body = client.post("/v1/requests", json={**body, "reason": "changed"}, headers={**h, "Idempotency-Key": "k1"})
    assert other_body.status_code == 409 and other_body.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"

    done = client.post(f"/v1/requests/{req['tracking_no']}/confirm", headers=h)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"

    receipt = client.get(f"/v1/requests/{req['tracking_no']}/receipt", headers={**h, "Accept": "application/json"}).json()
    assert sum(e["amount"] for e in receipt["ledger"]) == 0
    pdf = client.get(f"/v1/requests/{req['tracking_no']}/receipt", headers=h)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    v = client.get(f"/v1/receipts/verify/{receipt['verification_code']}").json()
    assert v["genuine"] is True and v["tracking_no"] == req["tracking_no"]
    assert "13800138000" not in str(v)
    forged = receipt["verification_code"][:-1] + ("A" if receipt["verification_code"][-1] != "A" else "B")
    assert client.get(f"/v1/receipts/verify/{forged}").json() == {"genuine": False}
    events = [m["event"] for m in client.get("/dev/outbox", params={"to": "13800138000"}).json()["messages"]]
    assert "completed" in events


def test_close_line_needs_step_up_then_refunds_and_freezes(world):
    c, client, _ = world
    h = login(client, "13800138000")
    body = {"kind": "close_line", "msisdn": "13800138000"}
    pre = client.post("/v1/prechecks", json=body, headers=h).json()
    assert pre["eligible"] is True
    assert {w["code"] for w in pre["warnings"]} == {"GIFT_BALANCE_FORFEIT"}
    # refund = cash 5000 − unbilled 320 + the data booster's unused share (prorated: 1000 × 19/30 days → 633)
    assert pre["impact"]["refund"]["amount"] == 5000 - 320 + 633
    missing = client.post("/v1/requests", json=body, headers=h)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "WARNINGS_NOT_ACKNOWLEDGED"
    req = client.post("/v1/requests", json={**body, "acknowledged_warnings": ["GIFT_BALANCE_FORFEIT"]}, headers=h).json()
    no = req["tracking_no"]
    r = client.post(f"/v1/requests/{no}/confirm", headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "STEP_UP_REQUIRED"
    r = client.post(f"/v1/requests/{no}/confirm", json={"verification": {"id_last6": "000000"}}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "STEP_UP_FAILED"
    r = client.post(f"/v1/requests/{no}/confirm", json={"verification": {"id_last6": "31002x"}}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    # The session belongs to the person: still valid after the login number is closed.
    got = client.get(f"/v1/requests/{no}", headers=h).json()
    assert got["status"] == "completed"
    lines = client.get("/v1/lines", headers=h).json()["lines"]
    assert lines[0]["status"] == "frozen"
    receipt = client.get(f"/v1/requests/{no}/receipt", headers={**h, "Accept": "application/json"}).json()
    assert receipt["refund"]["amount"] == 5313
    assert sum(e["amount"] for e in receipt["ledger"]) == 0
    again = client.post("/v1/prechecks", json=body, headers=h).json()
    assert again["eligible"] is False and [b["code"] for b in again["blockers"]] == ["LINE_NOT_ACTIVE"]


def test_another_subscriber_sees_404_not_403(world):
    c, client, _ = world
    mine = login(client, "13800138000")
    theirs = login(client, "13900139000")
    req = client.post("/v1/requests", json={"kind": "cancel_renewal", "msisdn": "13800138000", "subscription_id": "S-VIDEO"},
                      headers=mine).json()
    for method, path, body in [
        ("get", "/v1/lines/13800138000/subscriptions", None),
        ("post", "/v1/prechecks", {"kind": "close_line", "msisdn": "13800138000"}),
        ("post", "/v1/requests", {"kind": "close_line", "msisdn": "13800138000"}),
        ("get", f"/v1/requests/{req['tracking_no']}", None),
        ("post", f"/v1/requests/{req['tracking_no']}/confirm", None),
        ("post", f"/v1/requests/{req['tracking_no']}/withdraw", None),
        ("get", f"/v1/requests/{req['tracking_no']}/receipt", None),
    ]:
        r = getattr(client, method)(path, headers=theirs, **({"json": body} if body else {}))
        assert r.status_code == 404, (path, r.status_code, r.text)
        nonexistent = path.replace("13800138000", "13700137000").replace(req["tracking_no"], "CD20260101DEADBEEF")
        r2 = getattr(client, method)(nonexistent, headers=theirs, **({"json": body and {**body, "msisdn": "13700137000"}} if body else {}))
        assert r2.status_code == 404 and r2.json()["error"]["code"] == r.json()["error"]["code"]


def test_open_request_blocks_a_second_one_with_its_tracking_number(world):
    c, client, _ = world
    h = login(client, "13800138000")
    body = {"kind": "cancel_renewal", "msisdn": "13800138000", "subscription_id": "S-VIDEO"}
    first = client.post("/v1/requests", json=body, headers=h).json()
    second = client.post("/v1/requests", json=body, headers=h)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "OPEN_REQUEST"
    assert second.json()["error"]["details"]["tracking_no"] == first["tracking_no"]
    w = client.post(f"/v1/requests/{first['tracking_no']}/withdraw", headers=h)
    assert w.json()["status"] == "withdrawn"
    assert client.post("/v1/requests", json=body, headers=h).status_code == 201
