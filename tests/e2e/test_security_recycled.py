"""A number is not an identity forever (issue 8): a closed or re-issued number keeps no authority.

Attacks reproduced: a former owner reading — and acting on — the number after it was recycled or
re-issued to a stranger; an enterprise-admin login bound to a number that was closed (and a stale
import naming it again)."""
from __future__ import annotations

import json
import pytest
from sqlalchemy import select

from canceldesk.adapters import orm
from canceldesk.domain.model import EnterpriseAdmin, Line
from canceldesk.service_layer import auth, numbers
from canceldesk.service_layer.importer import import_bytes
from secworld import MISSING_MSISDN, build_world, otp_login
from support import PERSON_ID

SUB1_LINE = "13800138000"
ADMIN_NUMBER = "13800000001"   # ea1 logs in with it
OTHER_ADMIN = "13800000009"
SUB1_OTHER = "13800138111"


@pytest.fixture
def w(tmp_path):
    world = build_world(f"sqlite:///{tmp_path}/recycled.db")
    with world.c.uow() as uow:  # the former owner keeps another line, so they can still log in
        uow.session.add(Line(msisdn=SUB1_OTHER, customer_id="C001"))
        uow.commit()
    yield world
    world.c.dispose()


def close_own_line(w, actor: str, msisdn: str, verification: dict | None = None, ack: tuple = ()) -> dict:
    r = w.client.post("/v1/requests", json={"kind": "close_line", "msisdn": msisdn, "acknowledged_warnings": list(ack)},
                      headers=w.h(actor))
    assert r.status_code == 201 and r.json()["status"] == "awaiting_confirmation", r.text
    tn = r.json()["tracking_no"]
    r = w.client.post(f"/v1/requests/{tn}/confirm", json={"verification": verification} if verification else {},
                      headers=w.h(actor))
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    return r.json()


def close_sub1_line(w) -> None:
    assert w.client.post(f"/v1/requests/{w.objects['req_sub1']}/withdraw", headers=w.h("sub1")).status_code == 200
    close_own_line(w, "sub1", SUB1_LINE, {"id_last6": PERSON_ID[-6:]}, ack=("GIFT_BALANCE_FORFEIT",))
    with w.c.uow() as uow:
        line = uow.repo.line(SUB1_LINE)
        assert (line.status, line.former_customer_id) == ("frozen", "C001")


def reissue(w, msisdn: str, customer_id: str) -> dict:
    doc = {"lines": [{"msisdn": msisdn, "customer_id": customer_id, "status": "active", "cash_balance": 777,
                      "gift_balance": 0, "deposit": 0, "unbilled_usage": 0, "arrears": 0, "primary_msisdn": None,
                      "port_out_pending": False, "contract": None,
                      "bindings": [{"kind": "bank", "name": "新机主的银行"}]}]}
    return import_bytes(w.c, json.dumps(doc, ensure_ascii=False).encode())


def same_as_missing(w, actor: str, method: str, theirs: str, missing: str, body=None, missing_body=None) -> None:
    r1 = w.client.request(method, theirs, json=body, headers=w.h(actor))
    r2 = w.client.request(method, missing, json=missing_body if missing_body is not None else body, headers=w.h(actor))
    assert r1.status_code == 404, (theirs, r1.text)
    assert r1.json() == r2.json()


def test_former_owner_reclaims_only_while_frozen_and_not_after_recycling(w):
    close_sub1_line(w)
    # inside the freeze window the real former owner still sees the number and may reclaim it
    got = w.client.get("/v1/lines", headers=w.h("sub1")).json()["lines"]
    assert [(l["msisdn"], l["status"]) for l in got] == [(SUB1_LINE, "frozen"), (SUB1_OTHER, "active")]
    assert w.client.get(f"/v1/lines/{SUB1_LINE}/subscriptions", headers=w.h("sub1")).status_code == 200
    r = w.client.post("/v1/prechecks", json={"kind": "reclaim", "msisdn": SUB1_LINE}, headers=w.h("sub1"))
    assert (r.status_code, r.json()["eligible"]) == (200, True)
    # the window ends: the number is recyclable and nobody's any more
    w.clock.advance(days=w.c.pack.freeze_days + 1)
    assert numbers.expire_freezes(w.c, w.clock.now)["recyclable"] == 1
    w.tokens["sub1"] = otp_login(w.client, SUB1_OTHER)
    assert [l["msisdn"] for l in w.client.get("/v1/lines", headers=w.h("sub1")).json()["lines"]] == [SUB1_OTHER]
    same_as_missing(w, "sub1", "GET", f"/v1/lines/{SUB1_LINE}/subscriptions", f"/v1/lines/{MISSING_MSISDN}/subscriptions")
    same_as_missing(w, "sub1", "POST", "/v1/prechecks", "/v1/prechecks", {"kind": "reclaim", "msisdn": SUB1_LINE},
                    {"kind": "reclaim", "msisdn": MISSING_MSISDN})


def test_reissued_number_is_the_new_owners_alone(w):
    close_sub1_line(w)
    result = reissue(w, SUB1_LINE, "C002")  # re-issued inside the freeze window, to a stranger
    assert result["reissued"] == 1
    with w.c.uow() as uow:
        line = uow.repo.line(SUB1_LINE)
        assert (line.status, line.customer_id, line.former_customer_id, line.frozen_until) == ("active", "C002", None, None)
    # the former owner: no balance, no bank bindings, no request on the new owner's number
    assert [l["msisdn"] for l in w.client.get("/v1/lines", headers=w.h("sub1")).json()["lines"]] == [SUB1_OTHER]
    same_as_missing(w, "sub1", "GET", f"/v1/lines/{SUB1_LINE}/subscriptions", f"/v1/lines/{MISSING_MSISDN}/subscriptions")
    for kind in ("reclaim", "close_line"):
        same_as_missing(w, "sub1", "POST", "/v1/prechecks", "/v1/prechecks", {"kind": kind, "msisdn": SUB1_LINE},
                        {"kind": kind, "msisdn": MISSING_MSISDN})
        same_as_missing(w, "sub1", "POST", "/v1/requests", "/v1/requests", {"kind": kind, "msisdn": SUB1_LINE},
                        {"kind": kind, "msisdn": MISSING_MSISDN})
    # the new owner sees it with their balance
    mine = {l["msisdn"]: l for l in w.client.get("/v1/lines", headers=w.h("sub2")).json()["lines"]}
    assert (mine[SUB1_LINE]["status"], mine[SUB1_LINE]["cash_balance"]) == ("active", 777)
    with w.c.engine.connect() as conn:
        events = [r.event for r in conn.execute(select(orm.audit_log.c.event).order_by(orm.audit_log.c.id))]
    assert "number_reissued" in events
    # a stale feed naming the former owner again is not a re-issue and changes nothing of the new owner's
    assert "reissued" not in reissue(w, SUB1_LINE, "C002")


def _admin_number_as_company_line(w) -> None:
    with w.c.uow() as uow:
        uow.session.add(Line(msisdn=ADMIN_NUMBER, customer_id="E001"))
        company = uow.repo.customer("E001")
        company.admins.append(EnterpriseAdmin(msisdn=OTHER_ADMIN, name="孙七"))
        uow.commit()


def test_closing_an_admin_login_warns_and_ends_the_role(w):
    _admin_number_as_company_line(w)
    r = w.client.post("/v1/prechecks", json={"kind": "close_line", "msisdn": ADMIN_NUMBER}, headers=w.h("ea1"))
    warning = [x for x in r.json()["warnings"] if x["code"] == "ADMIN_LOGIN"]
    assert warning[0]["message"] == "该号码是 某某电销有限公司 的企业管理员登录号码；销户后其管理员权限终止。"
    assert warning[0]["details"] == {"enterprises": ["某某电销有限公司"]}
    r = w.client.post("/v1/requests", json={"kind": "close_line", "msisdn": ADMIN_NUMBER}, headers=w.h("ea1"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "WARNINGS_NOT_ACKNOWLEDGED"), r.text
    close_own_line(w, "ea1", ADMIN_NUMBER, ack=("ADMIN_LOGIN",))
    # the admin session bound to the closed number ends, and the number logs in as nobody
    r = w.client.get("/v1/enterprise/lines", headers=w.h("ea1"))
    assert r.status_code == 401, r.text
    before = len(w.client.get("/dev/outbox", params={"to": ADMIN_NUMBER}).json()["messages"])
    assert w.client.post("/v1/auth/otp", json={"msisdn": ADMIN_NUMBER}).status_code == 202
    assert len(w.client.get("/dev/outbox", params={"to": ADMIN_NUMBER}).json()["messages"]) == before
    # the enterprise's other admin is told, and the audit log says so
    told = [m for m in w.client.get("/dev/outbox", params={"to": OTHER_ADMIN}).json()["messages"]
            if m["event"] == "admin_login_ended"]
    assert [m["text"] for m in told] == [
        "【canceldesk】号码 138****0001 已销户或已转给他人，其企业管理员权限已终止。请尽快指定新的企业管理员。"]
    with w.c.engine.connect() as conn:
        row = conn.execute(select(orm.audit_log.c.subject, orm.audit_log.c.details)
                           .where(orm.audit_log.c.event == "admin_login_ended")).one()
    assert (row.subject, row.details) == ("enterprise:E001", {"admin": "138****0001", "reason": "closed",
                                                              "other_admins_told": 1})
    # a stale import naming the closed number as admin again does not bring the role back
    doc = {"customers": [{"id": "E001", "kind": "enterprise", "name": "某某电销有限公司",
                          "id_document": {"type": "cn_uscc", "number": "91350100M000100Y43"},
                          "admins": [{"msisdn": ADMIN_NUMBER, "name": "王五"}, {"msisdn": OTHER_ADMIN, "name": "孙七"}]}]}
    import_bytes(w.c, json.dumps(doc, ensure_ascii=False).encode())
    r = w.client.post("/v1/auth/otp", json={"msisdn": ADMIN_NUMBER})
    assert len(w.client.get("/dev/outbox", params={"to": ADMIN_NUMBER}).json()["messages"]) == before
    assert otp_login(w.client, OTHER_ADMIN)  # the other admin still works


def test_reissuing_an_admin_number_ends_the_admin_login(w):
    _admin_number_as_company_line(w)
    reissue(w, ADMIN_NUMBER, "C002")  # the company's number handed to a stranger
    assert w.client.get("/v1/enterprise/lines", headers=w.h("ea1")).status_code == 401
    # the stranger logs in as themself, never as the company's admin
    token = otp_login(w.client, ADMIN_NUMBER)
    me = w.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["role"], me["enterprise_id"]) == ("subscriber", None)
    with w.c.uow() as uow:
        assert auth._principal_for_msisdn(uow, ADMIN_NUMBER, as_role="enterprise_admin") is None
    with w.c.engine.connect() as conn:
        reasons = [r.reason for r in conn.execute(select(orm.ended_admin_logins.c.reason))]
    assert reasons == ["reissued"]


def test_the_group_commit_engine_ends_the_admin_login_when_it_freezes_the_number(w):
    """The freeze step of the worker's engine (service_layer/engine.py) is the same hook as the inline run."""
    from canceldesk.service_layer import engine
    _admin_number_as_company_line(w)
    w.c.enqueue_execution = lambda request_id: None  # accepted requests wait for the engine
    r = w.client.post("/v1/requests", json={"kind": "close_line", "msisdn": ADMIN_NUMBER,
                                            "acknowledged_warnings": ["ADMIN_LOGIN"]}, headers=w.h("ea1"))
    tn = r.json()["tracking_no"]
    r = w.client.post(f"/v1/requests/{tn}/confirm", json={}, headers=w.h("ea1"))
    assert (r.status_code, r.json()["status"]) == (200, "executing"), r.text
    assert w.client.get("/v1/enterprise/lines", headers=w.h("ea1")).status_code == 200  # not yet closed
    assert engine.drain(w.c) == 1
    assert w.client.get(f"/v1/requests/{tn}", headers=w.h("ea1")).status_code == 401  # the admin session ended
    with w.c.engine.connect() as conn:
        ended = conn.execute(select(orm.ended_admin_logins.c.msisdn, orm.ended_admin_logins.c.reason)).all()
        status = conn.execute(select(orm.lines.c.status).where(orm.lines.c.msisdn == ADMIN_NUMBER)).scalar_one()
    assert (ended, status) == ([(ADMIN_NUMBER, "closed")], "frozen")


def test_a_group_of_closings_ends_the_admin_login_of_its_admin_number_only(w):
    """The engine asks once per group which of its numbers are admin logins: a group closing an admin's
    number and a plain company line ends the one login, and freezes both."""
    from canceldesk.service_layer import engine
    _admin_number_as_company_line(w)
    plain = "18659109999"
    with w.c.uow() as uow:
        uow.session.add(Line(msisdn=plain, customer_id="E001"))
        uow.commit()
    w.c.enqueue_execution = lambda request_id: None  # accepted requests wait for the engine
    for number, ack in ((plain, []), (ADMIN_NUMBER, ["ADMIN_LOGIN"])):
        r = w.client.post("/v1/requests", json={"kind": "close_line", "msisdn": number, "acknowledged_warnings": ack},
                          headers=w.h("ea1"))
        r = w.client.post(f"/v1/requests/{r.json()['tracking_no']}/confirm", json={}, headers=w.h("ea1"))
        assert (r.status_code, r.json()["status"]) == (200, "executing"), r.text
    assert engine.drain(w.c) == 2
    with w.c.engine.connect() as conn:
        ended = conn.execute(select(orm.ended_admin_logins.c.msisdn, orm.ended_admin_logins.c.reason)).all()
        frozen = conn.execute(select(orm.lines.c.msisdn).where(orm.lines.c.status == "frozen")).scalars().all()
    assert ended == [(ADMIN_NUMBER, "closed")]
    assert sorted(frozen) == sorted([plain, ADMIN_NUMBER])
