"""Staff see what their role needs, every look is audited, and an ID number cannot be recovered by
trial (issue 8). Attacks reproduced: an agent on another store's queue and complaint, bulk
pre-checks of arbitrary numbers, ID-number enumeration through the customer search, a short
passport shown in full."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from canceldesk.adapters import orm
from canceldesk.domain.model import Customer, Line
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import complaints
from canceldesk.service_layer.principal import Principal
from secworld import STAFF_PASSWORD, STORE_1, build_world
from web_support import csrf_of, staff_login

PASSPORT = "E12345678"


@pytest.fixture
def w(tmp_path):
    world = build_world(f"sqlite:///{tmp_path}/staff.db")
    yield world
    world.c.dispose()


def pages_as(w, username: str) -> TestClient:
    client = TestClient(create_app(w.c))
    staff_login(client, username, STAFF_PASSWORD)
    return client


def events(w, event: str) -> list:
    with w.c.engine.connect() as conn:
        return conn.execute(select(orm.audit_log.c.actor, orm.audit_log.c.subject, orm.audit_log.c.details)
                            .where(orm.audit_log.c.event == event).order_by(orm.audit_log.c.id)).all()


def ric(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(a) * b for a, b in zip(first17, weights)) % 11]


def test_an_agent_sees_only_its_own_stores_queue_and_complaints(w):
    store1_request = w.objects["req_agent1"]  # taken by agent1 at store 1
    with w.c.engine.begin() as conn:
        conn.execute(update(orm.requests).where(orm.requests.c.tracking_no == store1_request).values(status="in_review"))
    ref = complaints.file(w.c, Principal(kind="subscriber", id="C002"), store1_request, "complaint", "为什么还没办好").reference
    own, other = pages_as(w, "agent1"), pages_as(w, "agent2")
    page = own.get("/counter/queues").text
    assert store1_request in page and ref in page
    page = other.get("/counter/queues").text
    assert store1_request not in page and ref not in page
    r = other.post(f"/counter/complaints/{ref}/resolve", data={"csrf": csrf_of(page), "resolution": "已处理"})
    assert r.status_code == 403
    assert other.get(f"/counter/requests/{store1_request}").status_code == 404
    with w.c.engine.connect() as conn:
        assert conn.execute(select(orm.complaints.c.status).where(orm.complaints.c.reference == ref)).scalar() == "open"
    # a reviewer (back office) still sees every store's
    assert ref in pages_as(w, "reviewer").get("/counter/queues").text


def test_an_agent_sees_a_customers_lines_only_after_the_in_person_check(w):
    r = w.client.get("/v1/staff/customers/C001", headers=w.h("agent2"))
    assert (r.status_code, r.json()["verified_in_person"], r.json()["lines"], r.json()["open_requests"]) == (
        200, False, [], [])
    page = pages_as(w, "agent2").get("/counter/customers/C001").text
    assert "138****8000" not in page and "13800138000" not in page and 'id="verify-first"' in page
    r = w.client.post("/v1/staff/customers/C001/id-checks", json={"type": "cn_ric", "number": "11010519491231002X"},
                      headers=w.h("agent2"))
    assert r.json() == {"match": True}
    got = w.client.get("/v1/staff/customers/C001", headers=w.h("agent2")).json()
    assert got["verified_in_person"] is True and [l["msisdn_masked"] for l in got["lines"]] == ["138****8000"]
    # back office sees every customer
    assert w.client.get("/v1/staff/customers/C002", headers=w.h("admin")).json()["verified_in_person"] is True


def test_bulk_prechecks_are_audited_refused_and_on_the_dashboard(w):
    with w.c.engine.begin() as conn:
        conn.execute(update(orm.lines).where(orm.lines.c.msisdn == "13800138000").values(arrears=8650))
    # without the person's document a staff pre-check tells NOT_OWNER and nothing else
    r = w.client.post("/v1/prechecks", json={"kind": "close_line", "msisdn": "13800138000"}, headers=w.h("agent1"))
    assert [b["code"] for b in r.json()["blockers"]] == ["NOT_OWNER"] and r.json()["warnings"] == []
    assert "86.50" not in r.text and r.json()["impact"]["refund"]["amount"] == 0
    answers = []
    for i in range(20):  # 20 arbitrary numbers as fast as the client goes
        r = w.client.post("/v1/prechecks", json={"kind": "close_line", "msisdn": f"1370013{i:04d}"}, headers=w.h("agent1"))
        answers.append(r.status_code)
    limit = w.c.settings.staff_lookup_limit
    assert answers == [404] * (limit - 1) + [429] * (21 - limit)
    assert r.json()["error"]["code"] == "STAFF_RATE_LIMITED"
    looks = events(w, "staff_precheck")
    assert len(looks) == limit and [d["found"] for _, _, d in looks] == [True] + [False] * (limit - 1)
    assert {a for a, _, _ in looks} == {f"agent:agent1@{STORE_1}"} and looks[1][1] == "137****0000"
    refused = events(w, "staff_lookup_refused")
    assert len(refused) == 21 - limit
    admin = pages_as(w, "admin")
    page = admin.get("/dashboard").text
    section = page[page.index('id="refused-lookups"'):]
    assert f"agent:agent1@{STORE_1}</td><td class=\"num\">{21 - limit}</td>" in section
    # another agent's budget is its own
    r = w.client.post("/v1/prechecks", json={"kind": "close_line", "msisdn": "13700130000"}, headers=w.h("agent2"))
    assert r.status_code == 404


def test_id_numbers_cannot_be_recovered_by_searching(w):
    guesses = [ric(f"1101051949123100{i}") for i in range(3, 9)]  # well-formed, nobody's
    codes = []
    for g in guesses:
        r = w.client.post("/v1/staff/customers/search", json={"id_document": {"type": "cn_ric", "number": g}},
                          headers=w.h("agent1"))
        codes.append((r.status_code, r.json().get("error", {}).get("code")))
    assert codes == [(404, "NOT_FOUND")] * 5 + [(429, "ID_CHECK_LOCKED")]
    # locked the same way as in-person checks: the right number does not get through either now
    r = w.client.post("/v1/staff/customers/C001/id-checks", json={"type": "cn_ric", "number": "11010519491231002X"},
                      headers=w.h("agent1"))
    assert (r.status_code, r.json()["error"]["code"]) == (429, "ID_CHECK_LOCKED")
    misses = [(s, d) for _, s, d in events(w, "customer_lookup") if not d["found"]]
    assert len(misses) == 5 and all(s == g[:3] + "*" * 12 + g[-3:] for (s, _), g in zip(misses, guesses))
    assert len(events(w, "id_check_locked")) == 1


def test_a_short_passport_is_never_shown_in_full(w):
    with w.c.uow() as uow:
        uow.session.add(Customer("C003", "person", "Anna Berg", "passport", PASSPORT, w.c.keyring.digest(PASSPORT)))
        uow.session.flush()
        uow.session.add(Line(msisdn="13600136000", customer_id="C003"))
        uow.commit()
    r = w.client.post("/v1/staff/customers/search", json={"id_document": {"type": "passport", "number": PASSPORT}},
                      headers=w.h("agent1"))
    assert r.json()["id_document"]["number_masked"] == "E1******8" and PASSPORT not in r.text
    r = w.client.post("/v1/staff/customers/C003/id-checks", json={"type": "passport", "number": PASSPORT},
                      headers=w.h("agent1"))
    assert r.json() == {"match": True}
    page = pages_as(w, "agent1").get("/counter/customers/C003").text
    assert "E1******8" in page and PASSPORT not in page and "12345678" not in page
    checks = events(w, "in_person_id_check")
    assert checks[-1][2]["document_masked"] == "E1******8"
    with w.c.engine.connect() as conn:
        assert not [d for d in conn.execute(select(orm.audit_log.c.details)).scalars() if "12345678" in str(d)]
