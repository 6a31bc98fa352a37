"""TMF622 journeys: a partner closes a fleet through product orders and follows it by callbacks.

The demo company E001 has 50 cards; 3 cannot close (ARREARS at 8, PORT_OUT_PENDING at 21,
CONTRACT_LOCK at 37). Another company, E002, has its own line.
"""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from fastapi.testclient import TestClient

from canceldesk.adapters.webhooks import RecordingWebhookGateway
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import delivery, partner_keys
from .test_web_enterprise_api import ADMIN, BLOCKED, FLEET, OTHER_ADMIN, _other_company, bearer
from web_support import demo_container

TMF = "/tmf-api/productOrderingManagement/v4"


@pytest.fixture()
def world(tmp_path):
    c = demo_container(tmp_path / "tmf.db")
    _other_company(c)
    c.webhook_gateway = RecordingWebhookGateway()
    client = TestClient(create_app(c))
    yield c, client
    c.dispose()


def key_for(c, enterprise: str = "E001") -> dict:
    return {"Authorization": f"Bearer {partner_keys.issue(c, enterprise, 'CRM', 'test')['key']}"}


def delete_items(numbers: list[str]) -> dict:
    return {"externalId": "fleet-2026-12", "productOrderItem": [
        {"id": str(i), "action": "delete", "product": {"id": n}} for i, n in enumerate(numbers, start=1)]}


def test_a_50_line_order_ends_partial_with_the_3_blocked_lines_named(world):
    c, client = world
    h = key_for(c)
    r = client.post(f"{TMF}/productOrder", json=delete_items(FLEET), headers=h)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["state"] == "acknowledged" and made["href"] == f"{TMF}/productOrder/{made['id']}"
    assert r.headers["location"] == made["href"] and made["orderDate"].endswith("Z")
    assert made["relatedParty"] == [{"id": "E001", "role": "customer", "@referredType": "Organization"}]
    assert {i["state"] for i in made["productOrderItem"]} == {"acknowledged"}

    order = client.get(f"{TMF}/productOrder/{made['id']}", headers=h).json()
    assert order["state"] == "partial" and order["completionDate"].endswith("Z")
    states = {int(i["id"]): i["state"] for i in order["productOrderItem"]}
    assert {p for p, s in states.items() if s != "completed"} == set(BLOCKED)
    assert all(states[p] == "failed" for p in BLOCKED)
    notes = {n["id"]: n["text"] for n in order["note"]}
    assert sorted(notes) == [f"item-{p}" for p in sorted(BLOCKED, key=str)]
    for p, code in BLOCKED.items():
        assert notes[f"item-{p}"].startswith(f"item {p}: {code} — ")
    assert "¥43.20" in notes["item-8"] or "43.20" in notes["item-8"]

    # every item is the request the portal and the console show, with channel partner
    admin = bearer(c, client, ADMIN)
    item = order["productOrderItem"][0]
    got = client.get(f"/v1/requests/{item['trackingNo']}", headers=admin).json()
    assert (got["status"], got["channel"], got["kind"], got["msisdn"]) == ("completed", "partner", "close_line", FLEET[0])
    assert all(e["channel"] == "partner" for e in got["timeline"] if e["actor"] != "system") and got["timeline"]


def test_add_is_refused_in_the_tmf_error_shape(world):
    c, client = world
    body = {"productOrderItem": [{"id": "1", "action": "add", "product": {"id": FLEET[0]}}]}
    r = client.post(f"{TMF}/productOrder", json=body, headers=key_for(c))
    assert r.status_code == 400
    assert r.json() == {"code": "ACTION_NOT_SUPPORTED",
                        "reason": "productOrderItem[0].action 'add' is not offered: canceldesk only ends things "
                                  "(delete, or modify with autoRenew=false)",
                        "message": "productOrderItem[0].action 'add' is not offered: canceldesk only ends things "
                                   "(delete, or modify with autoRenew=false) (field: productOrderItem[0].action)",
                        "status": "400"}


def test_bad_json_and_unknown_paths_answer_in_the_tmf_shape(world):
    c, client = world
    h = {**key_for(c), "content-type": "application/json"}
    r = client.post(f"{TMF}/productOrder", content=b"{not json", headers=h)
    assert r.status_code == 400 and set(r.json()) == {"code", "reason", "message", "status"}
    assert r.json()["code"] == "VALIDATION_FAILED" and r.json()["status"] == "400"
    r = client.patch(f"{TMF}/productOrder/x", json={}, headers=h)
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
    r = client.get(f"{TMF}/productOrder", params={"limit": 0}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "VALIDATION_FAILED"


def test_another_enterprises_product_id_is_rejected(world):
    c, client = world
    h = key_for(c)
    body = {"productOrderItem": [{"id": "a", "action": "delete", "product": {"id": FLEET[0]}},
                                 {"id": "b", "action": "delete", "product": {"id": "18659102001"}},
                                 {"id": "c", "action": "delete", "product": {"id": "S-18659102001-PLAN-BIZ-19"}}]}
    r = client.post(f"{TMF}/productOrder", json=body, headers=h)
    assert r.status_code == 201, r.text
    order = client.get(f"{TMF}/productOrder/{r.json()['id']}", headers=h).json()
    assert [(i["id"], i["state"]) for i in order["productOrderItem"]] == [
        ("a", "completed"), ("b", "rejected"), ("c", "rejected")]
    assert "trackingNo" not in order["productOrderItem"][1]
    assert {n["id"]: n["text"] for n in order["note"]} == {
        "item-b": "item b: PRODUCT_NOT_FOUND — no such product in this enterprise",
        "item-c": "item c: PRODUCT_NOT_FOUND — no such product in this enterprise"}
    assert order["state"] == "partial"
    other = bearer(c, client, OTHER_ADMIN)
    lines = client.get("/v1/enterprise/lines", headers=other).json()["lines"]
    assert [(x["msisdn"], x["status"], x["open_request"]) for x in lines] == [("18659102001", "active", None)]
    # an order of nothing but another company's products is refused whole
    r = client.post(f"{TMF}/productOrder", json=delete_items(["18659102001"]), headers=h)
    assert r.status_code == 400 and r.json()["code"] == "PRODUCT_NOT_FOUND"


def test_another_enterprises_order_is_404_like_a_missing_one(world):
    c, client = world
    made = client.post(f"{TMF}/productOrder", json=delete_items(FLEET[:2]), headers=key_for(c)).json()
    theirs = client.get(f"{TMF}/productOrder/{made['id']}", headers=key_for(c, "E002"))
    missing = client.get(f"{TMF}/productOrder/00000000-0000-4000-8000-000000000000", headers=key_for(c, "E002"))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["code"] == missing.json()["code"] == "NOT_FOUND"
    assert theirs.json()["status"] == "404" and made["id"] not in json.dumps(missing.json())
    r = client.post(f"{TMF}/cancelProductOrder", json={"productOrder": {"id": made["id"]}}, headers=key_for(c, "E002"))
    assert r.status_code == 400 and r.json()["code"] == "ORDER_NOT_FOUND"  # the spec lists no 404 for this POST
    assert client.get(f"{TMF}/productOrder", headers=key_for(c, "E002")).json() == []


def test_list_with_fields_filters_offset_limit_and_count_headers(world):
    c, client = world
    h = key_for(c)
    ids = [client.post(f"{TMF}/productOrder", json=delete_items([n]), headers=h).json()["id"] for n in FLEET[:3]]
    r = client.get(f"{TMF}/productOrder", params={"fields": "state", "limit": 2}, headers=h)
    assert r.status_code == 200
    assert (r.headers["x-total-count"], r.headers["x-result-count"]) == ("3", "2")
    assert all(set(o) == {"id", "href", "state", "productOrderItem"} for o in r.json())  # the spec requires items
    r2 = client.get(f"{TMF}/productOrder", params={"fields": "state", "limit": 2, "offset": 2}, headers=h)
    assert (r2.headers["x-total-count"], r2.headers["x-result-count"]) == ("3", "1")
    assert sorted(o["id"] for o in r.json() + r2.json()) == sorted(ids)
    one = client.get(f"{TMF}/productOrder/{ids[1]}", params={"fields": "orderDate"}, headers=h).json()
    by_date = client.get(f"{TMF}/productOrder", params={"orderDate": one["orderDate"]}, headers=h).json()
    assert ids[1] in [o["id"] for o in by_date]
    by_id = client.get(f"{TMF}/productOrder", params={"id": ids[0], "state": "completed"}, headers=h)
    assert [o["id"] for o in by_id.json()] == [ids[0]] and by_id.headers["x-total-count"] == "1"
    none = client.get(f"{TMF}/productOrder", params={"state": "partial"}, headers=h)
    assert none.json() == [] and none.headers["x-total-count"] == "0"


def test_an_admin_token_works_too_and_a_subscriber_is_refused(world):
    c, client = world
    r = client.post(f"{TMF}/productOrder", json=delete_items(FLEET[:1]), headers=bearer(c, client, ADMIN))
    assert r.status_code == 201
    r = client.get(f"{TMF}/productOrder", headers=bearer(c, client, "13800138000", as_role=None))
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


def test_a_callback_receives_each_state_change_once_signed(world):
    c, client = world
    h = key_for(c)
    hub = client.post(f"{TMF}/hub", json={"callback": "https://partner.example/tmf/events"}, headers=h)
    assert hub.status_code == 201 and set(hub.json()) == {"id", "callback", "secret"}
    secret = hub.json()["secret"]
    c.webhook_gateway.fail_next = 1        # the partner is down once: the outbox retries
    made = client.post(f"{TMF}/productOrder", json=delete_items(FLEET[6:9]), headers=h).json()
    delivery.deliver_pending(c)
    _retry_now(c)
    sent = c.webhook_gateway.sent
    states = [json.loads(s["body"])["event"]["productOrder"]["state"] for s in sent]
    # the first delivery failed and was retried, so "acknowledged" arrives after the others
    assert states == ["inProgress", "partial", "acknowledged"]
    for s in sent:
        assert s["to"] == "https://partner.example/tmf/events"
        assert s["signature"] == "sha256=" + hmac.new(secret.encode(), s["body"], hashlib.sha256).hexdigest()
        event = json.loads(s["body"])
        assert event["eventType"] == "ProductOrderStateChangeEvent" and event["event"]["productOrder"]["id"] == made["id"]
    final = json.loads(sent[1]["body"])["event"]["productOrder"]
    assert [(i["id"], i["state"]) for i in final["productOrderItem"]] == [("1", "completed"), ("2", "failed"),
                                                                          ("3", "completed")]
    _retry_now(c)
    assert len(c.webhook_gateway.sent) == 3
    # after the hub is removed, nothing more is posted
    assert client.delete(f"{TMF}/hub/{hub.json()['id']}", headers=h).status_code == 204
    client.post(f"{TMF}/productOrder", json=delete_items(FLEET[:1]), headers=h)
    _retry_now(c)
    assert len(c.webhook_gateway.sent) == 3
    assert client.delete(f"{TMF}/hub/{hub.json()['id']}", headers=h).status_code == 404


def test_an_event_of_a_large_order_lists_a_bounded_set_of_items_the_unhappy_ones_first(world, monkeypatch):
    """Past ITEMS_IN_EVENTS items an event still carries a valid ProductOrder (productOrderItem is
    required, minItems 1) but only that many items: those that did not end as asked first."""
    from canceldesk.service_layer import tmf_hubs
    monkeypatch.setattr(tmf_hubs, "ITEMS_IN_EVENTS", 2)
    c, client = world
    h = key_for(c)
    client.post(f"{TMF}/hub", json={"callback": "https://partner.example/tmf/events"}, headers=h)
    made = client.post(f"{TMF}/productOrder", json=delete_items(FLEET[5:9]), headers=h).json()  # item 3 is blocked
    delivery.deliver_pending(c)
    events = [json.loads(s["body"]) for s in c.webhook_gateway.sent]
    assert [e["event"]["productOrder"]["state"] for e in events] == ["acknowledged", "inProgress", "partial"]
    for e in events:
        assert e["description"] == (f"productOrderItem lists 2 of the order's 4 items (those that did not end as "
                                    f"asked first); GET {TMF}/productOrder/{made['id']} for all")
        assert len(e["event"]["productOrder"]["productOrderItem"]) == 2
    assert [i["id"] for i in events[0]["event"]["productOrder"]["productOrderItem"]] == ["1", "2"]
    final = events[2]["event"]["productOrder"]
    assert [(i["id"], i["state"]) for i in final["productOrderItem"]] == [("3", "failed"), ("1", "completed")]
    assert [n["id"] for n in final["note"]] == ["item-3"]
    # the order itself still lists all four
    assert len(client.get(f"{TMF}/productOrder/{made['id']}", headers=h).json()["productOrderItem"]) == 4


def _orders_and_items(c) -> tuple[int, int]:
    from sqlalchemy import func, select

    from canceldesk.adapters import orm
    with c.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(orm.batches)).scalar_one(),
                conn.execute(select(func.count()).select_from(orm.batch_items)).scalar_one())


def test_an_order_is_read_written_and_answered_chunk_by_chunk(world, monkeypatch):
    """Items are checked and written CHUNK at a time and the 201 is streamed from the database: with
    chunks of 2, a 7-item order is answered whole, in order, the other company's items rejected."""
    from canceldesk.service_layer import product_orders
    monkeypatch.setattr(product_orders, "CHUNK", 2)
    c, client = world
    queued: list[str] = []
    c.enqueue_order = queued.append
    numbers = FLEET[:3] + ["18659102001"] + FLEET[3:5] + ["18659102001"]
    body = {"productOrderItem": [{"id": f"i{k}", "action": "delete", "product": {"id": n}}
                                 for k, n in enumerate(numbers[:6])]
            + [{"id": "s", "action": "delete", "product": {"id": "S-18659102001-PLAN-BIZ-19"}}],
            "description": "chunks"}
    r = client.post(f"{TMF}/productOrder", json=body, headers=key_for(c))
    assert r.status_code == 201 and r.headers["content-type"] == "application/json", r.text
    made = r.json()
    assert queued == [made["id"]] and r.headers["location"] == made["href"]
    assert [(i["id"], i["state"], i["product"]["id"]) for i in made["productOrderItem"]] == [
        ("i0", "acknowledged", FLEET[0]), ("i1", "acknowledged", FLEET[1]), ("i2", "acknowledged", FLEET[2]),
        ("i3", "rejected", "18659102001"), ("i4", "acknowledged", FLEET[3]), ("i5", "acknowledged", FLEET[4]),
        ("s", "rejected", "S-18659102001-PLAN-BIZ-19")]
    assert [n["text"] for n in made["note"]] == ["item i3: PRODUCT_NOT_FOUND — no such product in this enterprise",
                                                 "item s: PRODUCT_NOT_FOUND — no such product in this enterprise"]
    assert made["state"] == "acknowledged" and made["description"] == "chunks"
    got = client.get(f"{TMF}/productOrder/{made['id']}", headers=key_for(c)).json()
    assert got == made


def test_a_bad_item_past_the_first_chunks_refuses_the_whole_order_and_writes_nothing(world, monkeypatch):
    from canceldesk.service_layer import product_orders
    monkeypatch.setattr(product_orders, "CHUNK", 2)
    c, client = world
    before = _orders_and_items(c)
    items = [{"id": str(k), "action": "delete", "product": {"id": n}} for k, n in enumerate(FLEET[:6])]
    items[5]["action"] = "add"
    r = client.post(f"{TMF}/productOrder", json={"productOrderItem": items}, headers=key_for(c))
    assert r.status_code == 400 and r.json()["code"] == "ACTION_NOT_SUPPORTED"
    assert r.json()["reason"].startswith("productOrderItem[5].action 'add' is not offered")
    items[5] = {"id": "0", "action": "delete", "product": {"id": FLEET[5]}}  # a repeat across chunks: the database sees it
    r = client.post(f"{TMF}/productOrder", json={"productOrderItem": items}, headers=key_for(c))
    assert (r.status_code, r.json()["reason"]) == (400, "productOrderItem[5].id '0' is used twice")
    items[5] = {"id": "4", "action": "delete", "product": {"id": FLEET[5]}}  # within one chunk
    r = client.post(f"{TMF}/productOrder", json={"productOrderItem": items}, headers=key_for(c))
    assert (r.status_code, r.json()["reason"]) == (400, "productOrderItem[5].id '4' is used twice")
    ids = ["0", "1", "2", "3", "1", "0"]  # "1" is used again at [4], "0" at [5]: the first repeat is named
    repeated = [{"id": i, "action": "delete", "product": {"id": n}} for i, n in zip(ids, FLEET)]
    r = client.post(f"{TMF}/productOrder", json={"productOrderItem": repeated}, headers=key_for(c))
    assert (r.status_code, r.json()["reason"]) == (400, "productOrderItem[4].id '1' is used twice")
    r = client.post(f"{TMF}/productOrder", json={"productOrderItem": items[:5], "requestedCompletionDate": "soon"},
                    headers=key_for(c))
    assert r.json()["reason"] == "requestedCompletionDate is a date-time like 2026-12-02T10:00:00.000Z"
    assert _orders_and_items(c) == before


@pytest.mark.parametrize("raw, reason", [
    (b'[{"productOrderItem": []}]', "the body is a ProductOrder_Create object"),
    (b'{"productOrderItem": []}', "productOrderItem lists at least one item"),
    (b'{"productOrderItem": [{"id": "1", "action": "delete", "product": {"id": "18659101001"}}], '
     b'"productOrderItem": [{"id": "2", "action": "delete", "product": {"id": "18659101002"}}]}',
     "productOrderItem is given twice"),
    (b'{"productOrderItem": [}', "the body is not valid JSON: Expecting value at character 22"),
    (b'\xff\xfe{}', "the body is not UTF-8 JSON"),
])
def test_a_body_that_is_not_one_order_is_a_clear_400(world, raw, reason):
    c, client = world
    before = _orders_and_items(c)
    r = client.post(f"{TMF}/productOrder", content=raw, headers={**key_for(c), "content-type": "application/json"})
    assert (r.status_code, r.json()["code"], r.json()["reason"]) == (400, "VALIDATION_FAILED", reason)
    assert _orders_and_items(c) == before


def _retry_now(c) -> None:
    """Deliver everything, including messages waiting for their retry time."""
    from datetime import timedelta
    from sqlalchemy import update

    from canceldesk.adapters import orm
    with c.engine.begin() as conn:
        conn.execute(update(orm.outbox).where(orm.outbox.c.sent_at.is_(None))
                     .values(next_attempt_at=c.now() - timedelta(seconds=1)))
    delivery.deliver_pending(c)


def test_hub_callbacks_must_be_urls(world):
    c, client = world
    r = client.post(f"{TMF}/hub", json={"callback": "not a url"}, headers=key_for(c))
    assert r.status_code == 400 and r.json()["reason"] == "callback is an http(s) URL of at most 200 characters"


def test_cancel_withdraws_the_items_not_yet_executing(world):
    c, client = world
    h = key_for(c)
    queued: list[str] = []
    c.enqueue_order = queued.append          # the workers have not picked the order up yet
    made = client.post(f"{TMF}/productOrder", json=delete_items(FLEET[:4]), headers=h).json()
    r = client.post(f"{TMF}/cancelProductOrder", json={"productOrder": {"id": made["id"]},
                                                       "cancellationReason": "wrong list"}, headers=h)
    assert r.status_code == 201, r.text
    cancel = r.json()
    assert cancel["state"] == "done" and cancel["productOrder"]["id"] == made["id"]
    assert cancel["effectiveCancellationDate"].endswith("Z")
    assert client.get(f"{TMF}/cancelProductOrder/{cancel['id']}", headers=h).json() == cancel
    listed = client.get(f"{TMF}/cancelProductOrder", headers=h)
    assert listed.json() == [cancel] and listed.headers["x-total-count"] == "1"
    from canceldesk.service_layer import product_orders
    product_orders.process(c, queued[0])     # a worker arrives late: nothing is started
    order = client.get(f"{TMF}/productOrder/{made['id']}", headers=h).json()
    assert order["state"] == "cancelled" and order["cancellationReason"] == "wrong list"
    assert {i["state"] for i in order["productOrderItem"]} == {"cancelled"}
    assert "trackingNo" not in order["productOrderItem"][0]
    again = client.post(f"{TMF}/cancelProductOrder", json={"productOrder": {"id": made["id"]}}, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "ORDER_FINISHED"


def test_modify_with_auto_renew_false_stops_the_renewal(world):
    c, client = world
    h = key_for(c)
    sub = f"S-{FLEET[0]}-PLAN-BIZ-19"
    body = {"productOrderItem": [{"id": "1", "action": "modify", "product": {
        "id": sub, "productCharacteristic": [{"name": "autoRenew", "value": False}]}}]}
    made = client.post(f"{TMF}/productOrder", json=body, headers=h).json()
    order = client.get(f"{TMF}/productOrder/{made['id']}", headers=h).json()
    got = client.get(f"/v1/requests/{order['productOrderItem'][0]['trackingNo']}", headers=bearer(c, client, ADMIN)).json()
    assert (got["kind"], got["subscription_id"], got["channel"]) == ("cancel_renewal", sub, "partner")
    body["productOrderItem"][0]["product"]["productCharacteristic"][0]["value"] = True
    r = client.post(f"{TMF}/productOrder", json=body, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "ACTION_NOT_SUPPORTED"


def test_a_large_order_body_is_accepted_up_to_its_own_limit(world):
    c, client = world
    assert c.settings.max_order_bytes > c.settings.max_body_bytes
    body = delete_items(FLEET * 1)
    body["description"] = "x" * 1500
    big = {"productOrderItem": [{"id": str(i), "action": "delete", "product": {"id": FLEET[i % 50]},
                                 "@type": "ProductOrderItem" + " " * 200} for i in range(6000)]}
    raw = json.dumps(big).encode()
    assert len(raw) > c.settings.max_body_bytes
    queued: list[str] = []
    c.enqueue_order = queued.append
    r = client.post(f"{TMF}/productOrder", content=raw, headers={**key_for(c), "content-type": "application/json"})
    assert r.status_code == 201 and len(r.json()["productOrderItem"]) == 6000 and queued
