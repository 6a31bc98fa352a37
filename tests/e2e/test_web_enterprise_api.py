"""The enterprise JSON endpoints: fleet paging, batches (pre-check, submit, outcome, per-line
results, CSV) — and that nobody else learns anything about a company's lines or batches."""
from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import auth, importer
from web_support import csrf_of, demo_container, otp_from_outbox, page_login

ADMIN = "13905912876"            # 林志强, admin of the demo company E001 (and the owner of a personal line)
OTHER_ADMIN = "13600000002"      # admin of E002, another company
FLEET = [f"1865910{1000 + i:04d}" for i in range(1, 51)]
BLOCKED = {8: "ARREARS", 21: "PORT_OUT_PENDING", 37: "CONTRACT_LOCK"}


def _other_company(c) -> None:
    doc = {"customers": [{"id": "E002", "kind": "enterprise", "name": "另一家公司",
                          "id_document": {"type": "cn_uscc", "number": "91350100M000100Y43"},
                          "admins": [{"msisdn": OTHER_ADMIN, "name": "赵六"}]}],
           "lines": [{"msisdn": "18659102001", "customer_id": "E002", "status": "active", "service_password": "111111",
                      "cash_balance": 100, "gift_balance": 0, "deposit": 0, "unbilled_usage": 0, "arrears": 0,
                      "primary_msisdn": None, "port_out_pending": False, "contract": None, "bindings": []}]}
    importer.import_bytes(c, json.dumps(doc, ensure_ascii=False).encode(), "application/json")


@pytest.fixture()
def world(tmp_path):
    c = demo_container(tmp_path / "api.db")
    _other_company(c)
    client = TestClient(create_app(c))
    yield c, client
    c.dispose()


def second_factor(client, h: dict, batch_id: str, count: int):
    """More than a handful of lines: the first submit sends a code; submit it with the count typed back."""
    r = client.post(f"/v1/enterprise/batches/{batch_id}/submit", json={}, headers=h)
    assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["details"]["count"]) == (
        403, "FLEET_STEP_UP_REQUIRED", count)
    return client.post(f"/v1/enterprise/batches/{batch_id}/submit",
                       json={"otp": otp_from_outbox(client, ADMIN), "confirm_count": count}, headers=h)


def bearer(c, client, msisdn: str, as_role: str | None = "enterprise_admin") -> dict:
    auth.send_otp(c, msisdn)
    token = auth.exchange_otp(c, msisdn, otp_from_outbox(client, msisdn), as_role=as_role)["token"]
    return {"Authorization": f"Bearer {token}"}


def test_fleet_is_paged_and_filtered(world):
    c, client = world
    h = bearer(c, client, ADMIN)
    page = client.get("/v1/enterprise/lines", params={"size": 20, "page": 3}, headers=h).json()
    assert page["total"] == 50 and page["pages"] == 3 and len(page["lines"]) == 10
    assert [l["msisdn"] for l in page["lines"]] == FLEET[40:]
    arrears = client.get("/v1/enterprise/lines", params={"filter": "arrears"}, headers=h).json()
    assert [l["msisdn"] for l in arrears["lines"]] == [FLEET[7]]
    assert client.get("/v1/enterprise/lines", params={"filter": "nonsense"}, headers=h).status_code == 422


def test_batch_of_50_with_3_blocked_ends_partial_with_per_line_results_and_csv(world):
    c, client = world
    h = bearer(c, client, ADMIN)
    r = client.post("/v1/enterprise/batches", json={"msisdns": FLEET, "submit": True, "reason": "项目结束"}, headers=h)
    assert r.status_code == 202, r.text
    batch_id = r.json()["id"]
    assert r.headers["location"] == f"/v1/enterprise/batches/{batch_id}"
    st = client.get(f"/v1/enterprise/batches/{batch_id}", headers=h).json()
    assert (st["phase"], st["eligible"]) == ("prechecked", 47)  # 47 lines: a fresh code and the count first
    assert second_factor(client, h, batch_id, 47).status_code == 202
    st = client.get(f"/v1/enterprise/batches/{batch_id}", headers=h).json()
    assert (st["phase"], st["outcome"], st["size"]) == ("submitted", "partial", 50)
    assert (st["eligible"], st["blocked"], st["completed"], st["not_completed"]) == (47, 3, 47, 3)
    assert st["progress"] == {"done": 50, "total": 50, "percent": 100} and st["running"] is False

    blocked = client.get(f"/v1/enterprise/batches/{batch_id}/results", params={"show": "blocked"}, headers=h).json()
    assert {r["position"]: r["reason_codes"] for r in blocked["rows"]} == {p: [code] for p, code in BLOCKED.items()}
    assert all(r["result"] == "rejected" and r["tracking_no"] for r in blocked["rows"])
    page2 = client.get(f"/v1/enterprise/batches/{batch_id}/results", params={"page": 2, "size": 20}, headers=h).json()
    assert [r["position"] for r in page2["rows"]] == list(range(21, 41))

    res = client.get(f"/v1/enterprise/batches/{batch_id}/results.csv", headers=h)
    assert res.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(res.text)))
    assert [r["msisdn"] for r in rows] == FLEET
    assert {int(r["position"]): r["reason_codes"] for r in rows if r["result"] != "completed"} == BLOCKED
    assert all(r["result"] == "completed" and r["completed_at"] for r in rows if int(r["position"]) not in BLOCKED)

    # every line is its own request, carrying the batch id, visible to the admin
    one = rows[0]["tracking_no"]
    got = client.get(f"/v1/requests/{one}", headers=h).json()
    assert got["status"] == "completed" and got["channel"] == "enterprise"


def test_two_phases_precheck_then_submit(world):
    c, client = world
    h = bearer(c, client, ADMIN)
    b = client.post("/v1/enterprise/batches", json={"msisdns": FLEET[:10]}, headers=h).json()
    st = client.get(f"/v1/enterprise/batches/{b['id']}", headers=h).json()
    assert (st["phase"], st["outcome"], st["eligible"], st["blocked"]) == ("prechecked", None, 9, 1)
    r = second_factor(client, h, b["id"], 9)
    assert r.status_code == 202
    st = client.get(f"/v1/enterprise/batches/{b['id']}", headers=h).json()
    assert (st["phase"], st["outcome"], st["completed"]) == ("submitted", "partial", 9)
    again = client.post(f"/v1/enterprise/batches/{b['id']}/submit", json={}, headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "INVALID_STATE"


def test_a_batch_of_only_blocked_lines_fails_and_a_clean_one_completes(world):
    c, client = world
    h = bearer(c, client, ADMIN)
    bad = client.post("/v1/enterprise/batches", json={"msisdns": [FLEET[7], FLEET[20]], "submit": True}, headers=h).json()
    assert client.get(f"/v1/enterprise/batches/{bad['id']}", headers=h).json()["outcome"] == "failed"
    good = client.post("/v1/enterprise/batches", json={"msisdns": FLEET[:3], "submit": True}, headers=h).json()
    assert client.get(f"/v1/enterprise/batches/{good['id']}", headers=h).json()["outcome"] == "completed"


def test_another_company_and_a_subscriber_get_404(world):
    c, client = world
    mine = bearer(c, client, ADMIN)
    b = client.post("/v1/enterprise/batches", json={"msisdns": FLEET[:2]}, headers=mine).json()
    other = bearer(c, client, OTHER_ADMIN)
    subscriber = bearer(c, client, "13800138000", as_role=None)
    # Another company's admin: 404, as for a batch that does not exist. A subscriber has the wrong role
    # for these endpoints (403 from deps.py, whatever the id): either way no answer tells the batch exists.
    for who, status in ((other, 404), (subscriber, 403)):
        for path in (f"/v1/enterprise/batches/{b['id']}", f"/v1/enterprise/batches/{b['id']}/results",
                     f"/v1/enterprise/batches/{b['id']}/results.csv"):
            r = client.get(path, headers=who)
            assert r.status_code == status, (path, r.text)
            assert client.get(path.replace(b["id"], "00000000-0000-0000-0000-000000000000"), headers=who).json() == r.json()
        assert client.post(f"/v1/enterprise/batches/{b['id']}/submit", json={}, headers=who).status_code == status
    # the other company cannot put our lines in its batch: the same 404 as for lines that do not exist
    r = client.post("/v1/enterprise/batches", json={"msisdns": FLEET[:2]}, headers=other)
    assert r.status_code == 404 and set(r.json()["error"]["details"]["msisdns"]) == set(FLEET[:2])
    ghost = client.post("/v1/enterprise/batches", json={"msisdns": ["13700137000"]}, headers=other)
    assert ghost.status_code == 404 and ghost.json()["error"]["code"] == r.json()["error"]["code"]
    assert client.get("/v1/enterprise/lines", headers=subscriber).status_code == 403
    assert client.get("/v1/enterprise/lines", headers=other).json()["total"] == 1


def test_a_cookie_authenticated_post_without_the_csrf_token_is_refused(world):
    c, client = world
    page_login(client, ADMIN, area="enterprise")           # the console's session cookie
    assert client.get("/v1/enterprise/lines").status_code == 200     # reading with the cookie is fine
    r = client.post("/v1/enterprise/batches", json={"msisdns": FLEET[:2]})
    assert r.status_code in (401, 403), r.text
    html = client.get("/enterprise").text
    form = client.post("/enterprise/batches", data={"msisdn": FLEET[:2]})           # the page's form, no token
    assert form.status_code == 403
    ok = client.post("/enterprise/batches", data={"csrf": csrf_of(html), "msisdn": FLEET[:2]}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/enterprise/batches/")
    assert len(client.get("/v1/enterprise/lines").json()["lines"]) == 50
