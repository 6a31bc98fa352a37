"""Authorisation of EVERY endpoint: a new route without a case here fails `test_every_route_has_a_case`.

For each route: which roles may call it (checked for every actor: a wrong role gets 403 FORBIDDEN
and nothing else), that a missing, expired, tampered, revoked or garbage token gets 401, and —
where the route reaches someone's line, request or receipt — that another subscriber, another
enterprise's admin and an agent of another store get exactly the answer a non-existent object
gets (same status, same code, same message: no existence oracle), with nothing written.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
from fastapi import routing
from fastapi.routing import APIRoute
from starlette.routing import Mount
from sqlalchemy import func, select

from canceldesk.adapters import orm
from canceldesk.service_layer.principal import MAY
from secworld import (MISSING_MSISDN, MISSING_TRACKING, OTHER_ID, SECRETS_OF_SUB1, World, bearer, build_world,
                      otp_login)
from support import PERSON_ID

SUBSCRIBERS = ("sub1", "sub2")
ACTORS = ("sub1", "sub2", "ea1", "ea2", "agent1", "agent2", "reviewer", "admin")
ROLE_OF = {"sub1": "subscriber", "sub2": "subscriber", "ea1": "enterprise_admin", "ea2": "enterprise_admin",
           "agent1": "agent", "agent2": "agent", "reviewer": "reviewer", "admin": "admin"}
BAD_TOKENS = ("anonymous", "expired", "tampered", "revoked", "garbage")
ANY = ("subscriber", "enterprise_admin", "agent", "reviewer", "admin")
PUBLIC = None
NO_BATCH = "00000000-0000-4000-8000-000000000000"
TMF = "/tmf-api/productOrderingManagement/v4"


def error_code(r) -> str | None:
    """The error's code in either shape: ours, or TMF's under /tmf-api."""
    body = r.json()
    if "error" in body:
        return body["error"]["code"] if set(body) == {"error"} else None
    return body["code"] if set(body) == {"code", "reason", "message", "status"} else None


@dataclass
class Probe:
    """A call an allowed caller may make without changing anything (targets that do not exist)."""
    method: str
    url: str
    json: object = None


@dataclass
class Case:
    roles: tuple[str, ...] | None          # None: public
    probe: Callable[[World], Probe]
    objects: Callable[[World], None] | None = None  # object-level checks, or None with a reason
    why_no_objects: str = ""


# ----------------------------------------------------------------------------- object checks

def call(w: World, actor: str, method: str, url: str, json=None, headers=None):
    return w.client.request(method, url, json=json, headers={**w.h(actor), **(headers or {})})


def counts(w: World) -> tuple:
    with w.c.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (orm.requests, orm.request_events, orm.ledger_entries, orm.receipts))


def same_as_missing(w: World, actor: str, method: str, theirs: str, missing: str, json=None, missing_json=None,
                    secrets: tuple[str, ...] = SECRETS_OF_SUB1) -> None:
    """`actor` asking about someone else's object answers exactly like asking about nothing."""
    before = counts(w)
    r1 = call(w, actor, method, theirs, json)
    r2 = call(w, actor, method, missing, missing_json if missing_json is not None else json)
    assert r1.status_code == 404, (actor, method, theirs, r1.status_code, r1.text)
    assert (r1.status_code, r1.json()) == (r2.status_code, r2.json()), (actor, theirs, r1.text, r2.text)
    assert set(r1.json()) == {"error"}
    for s in secrets:
        if s not in theirs:
            assert s not in r1.text, (actor, theirs, s)
    assert counts(w) == before, f"{actor} {method} {theirs} wrote something"


def status_of(w: World, tracking_no: str) -> str:
    with w.c.uow() as uow:
        return uow.repo.request(tracking_no).status


def objects_line_subscriptions(w: World) -> None:
    same_as_missing(w, "sub2", "GET", "/v1/lines/13800138000/subscriptions", f"/v1/lines/{MISSING_MSISDN}/subscriptions")
    mine = call(w, "sub1", "GET", "/v1/lines/13800138000/subscriptions")
    assert mine.status_code == 200 and "S-OTHER" not in mine.text


def objects_lines(w: World) -> None:
    got = call(w, "sub1", "GET", "/v1/lines").json()["lines"]
    assert [l["msisdn"] for l in got] == ["13800138000"]
    assert "13800138000" not in call(w, "sub2", "GET", "/v1/lines").text


def objects_line_history(w: World) -> None:
    for actor, theirs in (("sub2", "13800138000"), ("ea1", "13800138000"), ("ea2", "18659101000"),
                          ("sub1", "18659101000")):
        same_as_missing(w, actor, "GET", f"/v1/lines/{theirs}/history", f"/v1/lines/{MISSING_MSISDN}/history",
                        secrets=("C001", "E001", PERSON_ID))
    for actor, mine in (("sub1", "13800138000"), ("ea1", "18659101000"), ("agent2", "13800138000"), ("admin", "13800138000")):
        r = call(w, actor, "GET", f"/v1/lines/{mine}/history")
        assert (r.status_code, r.json()["msisdn"]) == (200, mine), (actor, r.text)


def _line_body(msisdn: str) -> dict:
    return {"kind": "close_line", "msisdn": msisdn}


def objects_prechecks(w: World) -> None:
    for actor, theirs in (("sub2", "13800138000"), ("ea1", "13800138000"), ("ea2", "18659101000"),
                          ("sub1", "18659101000")):
        same_as_missing(w, actor, "POST", "/v1/prechecks", "/v1/prechecks", _line_body(theirs), _line_body(MISSING_MSISDN),
                        secrets=("C001", "E001", PERSON_ID))
    # staff see the line but may not end it without the person's document: NOT_OWNER, not data
    r = call(w, "agent2", "POST", "/v1/prechecks", _line_body("13800138000")).json()
    assert r["eligible"] is False and "NOT_OWNER" in [b["code"] for b in r["blockers"]]
    r = call(w, "agent2", "POST", "/v1/prechecks", {**_line_body("13800138000"),
                                                    "in_person_document": {"type": "cn_ric", "number": OTHER_ID}}).json()
    assert "NOT_OWNER" in [b["code"] for b in r["blockers"]], "somebody else's ID card must not do"


def objects_create(w: World) -> None:
    for actor, theirs in (("sub2", "13800138000"), ("ea1", "13800138000"), ("ea2", "18659101000"),
                          ("sub1", "18659101000")):
        same_as_missing(w, actor, "POST", "/v1/requests", "/v1/requests", _line_body(theirs), _line_body(MISSING_MSISDN),
                        secrets=("C001", "E001", PERSON_ID))


def objects_request_list(w: World) -> None:
    mine = [r["tracking_no"] for r in call(w, "sub1", "GET", "/v1/requests").json()["requests"]]
    assert w.objects["req_sub1"] in mine
    theirs = call(w, "sub2", "GET", "/v1/requests").text
    assert w.objects["req_sub1"] not in theirs and w.objects["done_sub1"] not in theirs
    for staff in ("agent1", "ea1", "admin"):
        assert call(w, staff, "GET", "/v1/requests").json() == {"requests": []}


FOREIGN_REQUESTS = (  # (actor, object) pairs where the actor has no business
    ("sub2", "req_sub1"), ("sub1", "req_agent1"), ("sub1", "req_ea1"), ("ea1", "req_sub1"), ("ea2", "req_ea1"),
    ("agent1", "req_sub1"), ("agent2", "req_agent1"), ("agent1", "req_ea1"),
)


def _request_objects(suffix: str, method: str, json=None, mutating: bool = False):
    def check(w: World) -> None:
        for actor, obj in FOREIGN_REQUESTS:
            if ROLE_OF[actor] not in ("subscriber", "agent", "enterprise_admin") and mutating:
                continue
            no = w.objects[obj]
            before = status_of(w, no)
            same_as_missing(w, actor, method, f"/v1/requests/{no}{suffix}", f"/v1/requests/{MISSING_TRACKING}{suffix}",
                            json, secrets=("C001", "C002", "E001", PERSON_ID, OTHER_ID))
            assert status_of(w, no) == before
    return check


def objects_get_request(w: World) -> None:
    _request_objects("", "GET")(w)
    # who may read: the person (also counter requests made for them), the same store, the enterprise, back office
    for actor, obj in (("sub1", "req_sub1"), ("sub2", "req_agent1"), ("agent1", "req_agent1"), ("ea1", "req_ea1"),
                       ("reviewer", "req_sub1"), ("admin", "req_ea1")):
        assert call(w, actor, "GET", f"/v1/requests/{w.objects[obj]}").status_code == 200, (actor, obj)


def objects_confirm(w: World) -> None:
    _request_objects("/confirm", "POST", mutating=True)(w)


def objects_withdraw(w: World) -> None:
    _request_objects("/withdraw", "POST", mutating=True)(w)


def objects_receipt(w: World) -> None:
    done = w.objects["done_sub1"]
    for actor in ("sub2", "ea1", "agent1"):
        same_as_missing(w, actor, "GET", f"/v1/requests/{done}/receipt", f"/v1/requests/{MISSING_TRACKING}/receipt")
    assert call(w, "sub1", "GET", f"/v1/requests/{done}/receipt", headers={"Accept": "application/json"}).status_code == 200


def objects_verify(w: World) -> None:
    r = w.client.get(f"/v1/receipts/verify/{w.objects['receipt_code']}")
    assert r.status_code == 200 and r.json()["genuine"] is True
    for secret in (*SECRETS_OF_SUB1, "8000", "138****"):
        assert secret not in r.text


def objects_staff_search(w: World) -> None:
    r = call(w, "agent2", "POST", "/v1/staff/customers/search", {"msisdn": "13800138000"})
    assert r.status_code == 200, r.text
    body = r.text
    for secret in ("13800138000", PERSON_ID, "张三"):
        assert secret not in body
    assert r.json()["id_document"]["number_masked"] == "110************02X"
    r = call(w, "agent1", "POST", "/v1/staff/customers/search", {"id_document": {"type": "cn_ric", "number": PERSON_ID}})
    assert r.status_code == 200 and r.json()["id"] == "C001"


def objects_staff_view(w: World) -> None:
    r = call(w, "agent1", "GET", "/v1/staff/customers/C002")
    assert r.status_code == 200 and OTHER_ID not in r.text and "13900139000" not in r.text and "李四" not in r.text


def objects_id_check(w: World) -> None:
    r = call(w, "agent1", "POST", "/v1/staff/customers/C001/id-checks", {"type": "cn_ric", "number": PERSON_ID})
    assert r.json() == {"match": True}
    r = call(w, "agent1", "POST", "/v1/staff/customers/C001/id-checks", {"type": "cn_ric", "number": OTHER_ID})
    assert r.json() == {"match": False}


def objects_me(w: World) -> None:
    assert call(w, "ea1", "GET", "/v1/auth/me").json() == {"kind": "staff", "role": "enterprise_admin", "store": None,
                                                          "enterprise_id": "E001"}
    assert "13800000001" not in call(w, "ea1", "GET", "/v1/auth/me").text


def objects_outbox_prod(w: World) -> None:
    from fastapi.testclient import TestClient

    from canceldesk.entrypoints.api.app import create_app
    prod_settings = w.c.settings.model_copy(update={"env": "prod"})
    prod_settings.__dict__.pop("is_dev", None)
    original = w.c.settings
    w.c.settings = prod_settings
    try:
        r = TestClient(create_app(w.c)).get("/dev/outbox")
        assert r.status_code == 404 and "otp" not in r.text
    finally:
        w.c.settings = original


def objects_fleet(w: World) -> None:
    mine = call(w, "ea1", "GET", "/v1/enterprise/lines").json()
    assert {l["msisdn"] for l in mine["lines"]} >= {"18659101000"}
    theirs = call(w, "ea2", "GET", "/v1/enterprise/lines").text
    assert "18659101000" not in theirs and "18659102000" in theirs


def objects_batch_create(w: World) -> None:
    """The refusal repeats the number the caller sent, nothing more: identical once that is blanked."""
    before = counts(w)
    r1 = call(w, "ea2", "POST", "/v1/enterprise/batches", {"msisdns": ["18659101002"]})
    r2 = call(w, "ea2", "POST", "/v1/enterprise/batches", {"msisdns": [MISSING_MSISDN]})
    assert r1.status_code == r2.status_code == 404
    assert r1.text.replace("18659101002", "N") == r2.text.replace(MISSING_MSISDN, "N")
    assert "E001" not in r1.text and counts(w) == before


def _batch_objects(suffix: str, method: str = "GET", json=None):
    def check(w: World) -> None:
        bid = w.objects["batch_ea1"]
        same_as_missing(w, "ea2", method, f"/v1/enterprise/batches/{bid}{suffix}",
                        f"/v1/enterprise/batches/00000000-0000-4000-8000-000000000000{suffix}", json, secrets=("E001",))
        assert call(w, "ea1", "GET", f"/v1/enterprise/batches/{bid}").status_code == 200
    return check


# ---- pages (cookie session, CSRF-checked forms, redirect to login) ------------------------------------

LOGIN_PAGES = ("/?next=", "/staff/login?next=", "/enterprise/login?next=")


def page(w: World, actor: str, method: str, url: str, form: dict | None = None, csrf: bool = True):
    token = w.tokens.get(actor)
    basis = token or "anonymous-visitor-seed-0001"
    cookie = f"cd_session={token}" if token else f"cd_anon={basis}"
    data = None
    if method == "POST":
        data = dict(form or {})
        if csrf:
            data["csrf"] = w.c.keyring.sign("csrf:" + basis, 32)
    return w.client.request(method, url, data=data, headers={"Cookie": cookie}, follow_redirects=False)


def refused_page(r, secrets=SECRETS_OF_SUB1) -> bool:
    if r.status_code == 303:
        ok = r.headers["location"].startswith(LOGIN_PAGES)
    else:
        ok = r.status_code in (403, 404)
    return ok and not any(s in r.text for s in secrets)


def _page_same_as_missing(w: World, actor: str, method: str, theirs: str, missing: str, form=None) -> None:
    before = counts(w)
    r1, r2 = page(w, actor, method, theirs, form), page(w, actor, method, missing, form)
    assert r1.status_code == r2.status_code == 404, (actor, theirs, r1.status_code, r2.status_code)
    for s in SECRETS_OF_SUB1 + ("C002", OTHER_ID):
        if s not in theirs:
            assert s not in r1.text, (actor, theirs, s)
    assert counts(w) == before


def pages_portal_lines(w: World) -> None:
    for suffix, method in (("", "GET"), ("/close", "GET"), ("/close", "POST"), ("/end", "POST"),
                           ("/withdraw/S-VIDEO", "GET")):
        _page_same_as_missing(w, "sub2", method, f"/lines/13800138000{suffix}", f"/lines/{MISSING_MSISDN}{suffix}",
                              {"kind": "unsubscribe", "subscription_id": "S-VIDEO"})


def pages_portal_requests(w: World) -> None:
    for suffix, method in (("", "GET"), ("/confirm", "POST"), ("/withdraw", "POST"), ("/complaints", "POST")):
        no = w.objects["req_sub1"]
        _page_same_as_missing(w, "sub2", method, f"/requests/{no}{suffix}", f"/requests/{MISSING_TRACKING}{suffix}",
                              {"text": "not mine"})
        assert status_of(w, no) == "awaiting_confirmation"


def pages_home(w: World) -> None:
    assert "13800138000" not in page(w, "sub2", "GET", "/").text


def pages_verify(w: World) -> None:
    r = page(w, "anonymous", "GET", f"/verify/{w.objects['receipt_code']}")
    assert r.status_code == 200
    for s in SECRETS_OF_SUB1:
        assert s not in r.text


def pages_counter_requests(w: World) -> None:
    for actor, obj in (("agent2", "req_agent1"), ("agent1", "req_sub1"), ("agent1", "req_ea1")):
        for suffix, method in (("", "GET"), ("/review", "POST"), ("/retry", "POST"), ("/close", "POST")):
            _page_same_as_missing(w, actor, method, f"/counter/requests/{w.objects[obj]}{suffix}",
                                  f"/counter/requests/{MISSING_TRACKING}{suffix}", {"decision": "approve", "reason": "x"})
    assert page(w, "agent1", "GET", f"/counter/requests/{w.objects['req_agent1']}").status_code == 200


def pages_counter_customer(w: World) -> None:
    r = page(w, "agent2", "GET", "/counter/customers/C001")
    # the full name only where the pack lets the agent compare it with the card, and only there
    shown = 1 if w.c.pack.counter_shows_full_name else 0
    assert r.status_code == 200 and PERSON_ID not in r.text and r.text.count("张三") == shown
    assert ('id="name-on-record"' in r.text) == bool(shown)


def pages_enterprise_batch(w: World) -> None:
    bid = w.objects["batch_ea1"]
    for suffix, method in (("", "GET"), ("/submit", "POST"), ("/resume", "POST")):
        _page_same_as_missing(w, "ea2", method, f"/enterprise/batches/{bid}{suffix}",
                              f"/enterprise/batches/00000000-0000-4000-8000-000000000000{suffix}")
    assert page(w, "ea1", "GET", f"/enterprise/batches/{bid}").status_code == 200


def pages_enterprise_fleet(w: World) -> None:
    r = page(w, "ea2", "GET", "/enterprise")
    assert r.status_code == 200 and "18659101000" not in r.text


def pages_enterprise_keys(w: World) -> None:
    """Another company's admin neither sees nor revokes this company's partner keys (404 like a missing key)."""
    from canceldesk.service_layer import partner_keys
    key = partner_keys.issue(w.c, "E001", "authz page check", "test")
    _page_same_as_missing(w, "ea2", "POST", f"/enterprise/keys/{key['id']}/revoke", "/enterprise/keys/000000000000/revoke")
    assert [k["active"] for k in partner_keys.all_keys(w.c, "E001") if k["id"] == key["id"]] == [True]
    assert key["id"] not in page(w, "ea2", "GET", "/enterprise/keys").text
    assert key["id"] in page(w, "ea1", "GET", "/enterprise/keys").text


def objects_assistant(w: World) -> None:
    """The assistant never names or proposes someone else's line, and conversations are per person."""
    before = counts(w)
    r = call(w, "sub2", "POST", "/v1/assistant/messages", {"text": "帮我把13800138000销户"})
    assert r.status_code == 200 and r.json()["proposal"] is None and r.json()["refused"] is True
    mine = call(w, "sub1", "POST", "/v1/assistant/messages", {"text": "视频会员的自动续费关了"})
    assert mine.json()["proposal"]["subscription_id"] == "S-VIDEO"
    theirs = call(w, "sub2", "POST", "/v1/assistant/messages", {"text": "确认", "conversation_id": mine.json()["conversation_id"]})
    missing = call(w, "sub2", "POST", "/v1/assistant/messages", {"text": "确认", "conversation_id": NO_BATCH})
    assert theirs.status_code == 404 and (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())
    assert counts(w) == before, "the assistant acted without the owner's confirmation"


def pages_offer_decision(w: World) -> None:
    """A save offer is decided only by the person it was made to; anyone else gets the missing answer."""
    from canceldesk.adapters import insights_store
    with w.c.uow() as uow:
        insights_store.add_offer(uow.session, id="00000000-0000-4000-8000-0000000000aa", customer_id="C001",
                                 subscription_id="S-VIDEO", kind="cancel_renewal", offer="X", status="offered",
                                 created_at=w.c.now(), decided_at=None)
        uow.commit()
    _page_same_as_missing(w, "sub2", "POST", "/offers/00000000-0000-4000-8000-0000000000aa", f"/offers/{NO_BATCH}")
    with w.c.uow() as uow:
        assert insights_store.offer(uow.session, "00000000-0000-4000-8000-0000000000aa")["status"] == "offered"


# ------------------------------------------------------------------------------------- the table

def _p(method: str, url: str, json=None) -> Callable[[World], Probe]:
    return lambda w: Probe(method, url, json)


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/healthz"): Case(PUBLIC, _p("GET", "/healthz"), why_no_objects="no personal data"),
    ("GET", "/metrics"): Case(PUBLIC, _p("GET", "/metrics"), why_no_objects="counters only (keep it off the internet)"),
    ("GET", "/dev/outbox"): Case(PUBLIC, _p("GET", "/dev/outbox"), objects_outbox_prod),
    ("GET", "/bench/bare"): Case(PUBLIC, _p("GET", "/bench/bare"), why_no_objects="constant answer"),
    ("GET", "/favicon.ico"): Case(PUBLIC, _p("GET", "/favicon.ico"), why_no_objects="a static picture"),
    ("GET", "/openapi.json"): Case(PUBLIC, _p("GET", "/openapi.json"), why_no_objects="the API description"),
    ("GET", "/docs"): Case(PUBLIC, _p("GET", "/docs"), why_no_objects="the API description"),
    ("GET", "/docs/oauth2-redirect"): Case(PUBLIC, _p("GET", "/docs/oauth2-redirect"), why_no_objects="static page"),
    ("POST", "/v1/auth/otp"): Case(PUBLIC, _p("POST", "/v1/auth/otp", {"msisdn": MISSING_MSISDN}),
                                   why_no_objects="same answer for any number: tests/unit/test_security_otp.py"),
    ("POST", "/v1/auth/token"): Case(PUBLIC, _p("POST", "/v1/auth/token", {"msisdn": MISSING_MSISDN, "otp": "000000"}),
                                     why_no_objects="tests/unit/test_security_otp.py"),
    ("POST", "/v1/auth/staff"): Case(PUBLIC, _p("POST", "/v1/auth/staff", {"username": "nobody", "password": "x" * 12}),
                                     why_no_objects="tests/unit/test_security_otp.py (staff lockout)"),
    ("POST", "/v1/auth/logout"): Case(ANY, _p("POST", "/v1/auth/logout"), why_no_objects="ends the caller's own session"),
    ("GET", "/v1/auth/me"): Case(ANY, _p("GET", "/v1/auth/me"), objects_me),
    ("GET", "/v1/lines"): Case(("subscriber",), _p("GET", "/v1/lines"), objects_lines),
    ("GET", "/v1/lines/{msisdn}/subscriptions"): Case(("subscriber",), _p("GET", f"/v1/lines/{MISSING_MSISDN}/subscriptions"),
                                                      objects_line_subscriptions),
    ("GET", "/v1/lines/{msisdn}/history"): Case(ANY, _p("GET", f"/v1/lines/{MISSING_MSISDN}/history"),
                                                objects_line_history),
    ("POST", "/v1/prechecks"): Case(ANY, _p("POST", "/v1/prechecks", _line_body(MISSING_MSISDN)), objects_prechecks),
    ("POST", "/v1/requests"): Case(("subscriber", "agent", "enterprise_admin"),
                                   _p("POST", "/v1/requests", _line_body(MISSING_MSISDN)), objects_create),
    ("GET", "/v1/requests"): Case(ANY, _p("GET", "/v1/requests"), objects_request_list),
    ("GET", "/v1/requests/{tracking_no}"): Case(ANY, _p("GET", f"/v1/requests/{MISSING_TRACKING}"), objects_get_request),
    ("POST", "/v1/requests/{tracking_no}/confirm"): Case(("subscriber", "agent", "enterprise_admin"),
                                                         _p("POST", f"/v1/requests/{MISSING_TRACKING}/confirm"), objects_confirm),
    ("POST", "/v1/requests/{tracking_no}/withdraw"): Case(("subscriber", "agent", "enterprise_admin"),
                                                          _p("POST", f"/v1/requests/{MISSING_TRACKING}/withdraw"), objects_withdraw),
    ("GET", "/v1/requests/{tracking_no}/receipt"): Case(ANY, _p("GET", f"/v1/requests/{MISSING_TRACKING}/receipt"),
                                                        objects_receipt),
    ("GET", "/v1/receipts/verify/{code}"): Case(PUBLIC, _p("GET", "/v1/receipts/verify/AAAAA-BBBBB"), objects_verify),
    ("POST", "/v1/admin/import"): Case(("admin",), _p("POST", "/v1/admin/import", {"products": "not a list"}),
                                       why_no_objects="admins import everything; role check only"),
    ("GET", "/v1/admin/queues/review"): Case(("reviewer", "admin"), _p("GET", "/v1/admin/queues/review"),
                                             why_no_objects="back office sees all requests by design"),
    ("GET", "/v1/admin/queues/escalations"): Case(("reviewer", "admin"), _p("GET", "/v1/admin/queues/escalations"),
                                                  why_no_objects="back office sees all requests by design"),
    ("POST", "/v1/admin/requests/{tracking_no}/review"): Case(
        ("reviewer", "admin"), _p("POST", f"/v1/admin/requests/{MISSING_TRACKING}/review", {"approve": True}),
        why_no_objects="back office decides any review"),
    ("POST", "/v1/staff/customers/search"): Case(("agent", "admin"),
                                                 _p("POST", "/v1/staff/customers/search", {"msisdn": MISSING_MSISDN}),
                                                 objects_staff_search),
    ("GET", "/v1/staff/customers/{customer_id}"): Case(("agent", "admin"), _p("GET", "/v1/staff/customers/NOPE"),
                                                       objects_staff_view),
    ("POST", "/v1/staff/customers/{customer_id}/id-checks"): Case(
        ("agent", "admin"), _p("POST", "/v1/staff/customers/NOPE/id-checks", {"type": "cn_ric", "number": PERSON_ID}),
        objects_id_check),
    ("POST", "/v1/assistant/messages"): Case(("subscriber",), _p("POST", "/v1/assistant/messages", {"text": "查询"}),
                                             objects_assistant),
    # enterprise fleet and batches (JSON)
    ("GET", "/v1/enterprise/lines"): Case(("enterprise_admin",), _p("GET", "/v1/enterprise/lines"), objects_fleet),
    ("POST", "/v1/enterprise/batches"): Case(("enterprise_admin",),
                                             _p("POST", "/v1/enterprise/batches", {"msisdns": [MISSING_MSISDN]}),
                                             objects_batch_create),
    ("POST", "/v1/enterprise/batches/{batch_id}/submit"): Case(
        ("enterprise_admin",), _p("POST", f"/v1/enterprise/batches/{NO_BATCH}/submit", {}), _batch_objects("/submit", "POST", {})),
    ("GET", "/v1/enterprise/batches/{batch_id}"): Case(("enterprise_admin",), _p("GET", f"/v1/enterprise/batches/{NO_BATCH}"),
                                                       _batch_objects("")),
    ("GET", "/v1/enterprise/batches/{batch_id}/results"): Case(
        ("enterprise_admin",), _p("GET", f"/v1/enterprise/batches/{NO_BATCH}/results"), _batch_objects("/results")),
    ("GET", "/v1/enterprise/batches/{batch_id}/results.csv"): Case(
        ("enterprise_admin",), _p("GET", f"/v1/enterprise/batches/{NO_BATCH}/results.csv"), _batch_objects("/results.csv")),
    # partner API keys and TMF622 (the partner API answers in the TMF error shape)
    ("POST", "/v1/enterprise/partner-keys"): Case(("enterprise_admin",), _p("POST", "/v1/enterprise/partner-keys", {}),
                                                  why_no_objects="tests/e2e/test_partner_keys.py"),
    ("GET", "/v1/enterprise/partner-keys"): Case(("enterprise_admin",), _p("GET", "/v1/enterprise/partner-keys"),
                                                 why_no_objects="tests/e2e/test_partner_keys.py"),
    ("DELETE", "/v1/enterprise/partner-keys/{key_id}"): Case(
        ("enterprise_admin",), _p("DELETE", "/v1/enterprise/partner-keys/000000000000"),
        why_no_objects="tests/e2e/test_partner_keys.py"),
    ("POST", f"{TMF}/productOrder"): Case(("enterprise_admin",), _p("POST", f"{TMF}/productOrder", {}),
                                          why_no_objects="tests/e2e/test_tmf622.py (another enterprise's product)"),
    ("GET", f"{TMF}/productOrder"): Case(("enterprise_admin",), _p("GET", f"{TMF}/productOrder"),
                                         why_no_objects="tests/e2e/test_tmf622.py (lists only the caller's orders)"),
    ("GET", f"{TMF}/productOrder/{{id}}"): Case(("enterprise_admin",), _p("GET", f"{TMF}/productOrder/{NO_BATCH}"),
                                               why_no_objects="tests/e2e/test_tmf622.py (another enterprise's order)"),
    ("POST", f"{TMF}/cancelProductOrder"): Case(("enterprise_admin",), _p("POST", f"{TMF}/cancelProductOrder",
                                                                          {"productOrder": {"id": NO_BATCH}}),
                                                why_no_objects="tests/e2e/test_tmf622.py"),
    ("GET", f"{TMF}/cancelProductOrder"): Case(("enterprise_admin",), _p("GET", f"{TMF}/cancelProductOrder"),
                                               why_no_objects="tests/e2e/test_tmf622.py"),
    ("GET", f"{TMF}/cancelProductOrder/{{id}}"): Case(("enterprise_admin",),
                                                     _p("GET", f"{TMF}/cancelProductOrder/{NO_BATCH}"),
                                                     why_no_objects="tests/e2e/test_tmf622.py"),
    ("POST", f"{TMF}/hub"): Case(("enterprise_admin",), _p("POST", f"{TMF}/hub", {}),
                                 why_no_objects="tests/e2e/test_tmf622.py (hubs of another enterprise)"),
    ("DELETE", f"{TMF}/hub/{{id}}"): Case(("enterprise_admin",), _p("DELETE", f"{TMF}/hub/{'0' * 32}"),
                                          why_no_objects="tests/e2e/test_tmf622.py (hubs of another enterprise)"),
    # Channels: no bearer token — the platform signs each call; the sender/caller is the network-verified
    # number and commands act only on it (tests/e2e/test_channels_sms.py, test_channels_ivr.py).
    ("POST", "/channels/sms/inbound"): Case(PUBLIC, _p("POST", "/channels/sms/inbound", {"from": MISSING_MSISDN, "to": "10086",
                                                                                          "text": "0000", "message_id": "x"}),
                                            why_no_objects="signed webhook; another number's services unreachable (channel tests)"),
    ("POST", "/channels/ivr/voice"): Case(PUBLIC, _p("POST", "/channels/ivr/voice"),
                                          why_no_objects="Twilio-signed webhook; the caller reaches only their own number"),
}

SUBSCRIBER_PAGE = ("subscriber",)
COUNTER_PAGE = ("agent", "reviewer", "admin")
COUNTER_DESK = MAY["counter"]  # behind the counter's login, only these look customers up (a reviewer gets 403)
ENTERPRISE_PAGE = ("enterprise_admin",)
DASHBOARD_PAGE = ("admin",)
PUBLIC_PAGE = None
M = MISSING_MSISDN
T = MISSING_TRACKING

# Pages: (roles of the page's login gate, probe, object checks). A refused page is a redirect to
# the area's login or an error page, never the content.
PAGE_CASES: dict[tuple[str, str], Case] = {
    ("GET", "/"): Case(PUBLIC_PAGE, _p("GET", "/"), pages_home),
    ("POST", "/login/otp"): Case(PUBLIC_PAGE, _p("POST", "/login/otp", {"msisdn": M}), why_no_objects="same as the API"),
    ("POST", "/login/verify"): Case(PUBLIC_PAGE, _p("POST", "/login/verify", {"msisdn": M, "otp": "000000"}),
                                    why_no_objects="same as the API"),
    ("POST", "/logout"): Case(PUBLIC_PAGE, _p("POST", "/logout"), why_no_objects="ends the caller's own session"),
    ("GET", "/lang/{code}"): Case(PUBLIC_PAGE, _p("GET", "/lang/en"), why_no_objects="sets a cookie"),
    ("GET", "/verify"): Case(PUBLIC_PAGE, _p("GET", "/verify"), why_no_objects="a form"),
    ("GET", "/verify/{code}"): Case(PUBLIC_PAGE, _p("GET", "/verify/AAAAA-BBBBB"), pages_verify),
    ("GET", "/staff/login"): Case(PUBLIC_PAGE, _p("GET", "/staff/login"), why_no_objects="a form"),
    ("POST", "/staff/login"): Case(PUBLIC_PAGE, _p("POST", "/staff/login", {"username": "nobody", "password": "x" * 12}),
                                   why_no_objects="same as the API"),
    ("GET", "/enterprise/login"): Case(PUBLIC_PAGE, _p("GET", "/enterprise/login"), why_no_objects="a form"),
    ("GET", "/lines/{msisdn}"): Case(SUBSCRIBER_PAGE, _p("GET", f"/lines/{M}"), pages_portal_lines),
    ("POST", "/lines/{msisdn}/end"): Case(SUBSCRIBER_PAGE, _p("POST", f"/lines/{M}/end", {"kind": "unsubscribe"}),
                                          pages_portal_lines),
    ("GET", "/lines/{msisdn}/withdraw/{subscription_id}"): Case(SUBSCRIBER_PAGE, _p("GET", f"/lines/{M}/withdraw/S-X"),
                                                                 pages_portal_lines),
    ("GET", "/lines/{msisdn}/close"): Case(SUBSCRIBER_PAGE, _p("GET", f"/lines/{M}/close"), pages_portal_lines),
    ("POST", "/lines/{msisdn}/close"): Case(SUBSCRIBER_PAGE, _p("POST", f"/lines/{M}/close"), pages_portal_lines),
    ("GET", "/requests/{tracking_no}"): Case(SUBSCRIBER_PAGE, _p("GET", f"/requests/{T}"), pages_portal_requests),
    ("POST", "/requests/{tracking_no}/confirm"): Case(SUBSCRIBER_PAGE, _p("POST", f"/requests/{T}/confirm"),
                                                      pages_portal_requests),
    ("POST", "/requests/{tracking_no}/withdraw"): Case(SUBSCRIBER_PAGE, _p("POST", f"/requests/{T}/withdraw"),
                                                       pages_portal_requests),
    ("POST", "/requests/{tracking_no}/complaints"): Case(SUBSCRIBER_PAGE, _p("POST", f"/requests/{T}/complaints",
                                                                             {"text": "x"}), pages_portal_requests),
    ("POST", "/offers/{offer_id}"): Case(SUBSCRIBER_PAGE, _p("POST", f"/offers/{NO_BATCH}", {"decision": "decline"}),
                                         pages_offer_decision),
    ("POST", "/assistant"): Case(SUBSCRIBER_PAGE, _p("POST", "/assistant", {"text": "查询"}),
                                 why_no_objects="the API's assistant answers only about the caller's own lines (objects_assistant)"),
    ("GET", "/counter"): Case(COUNTER_PAGE, _p("GET", "/counter"), why_no_objects="a search form"),
    ("POST", "/counter/search"): Case(COUNTER_DESK, _p("POST", "/counter/search", {"by": "msisdn", "msisdn": M}),
                                      why_no_objects="staff find any customer (masked): API case covers it"),
    ("GET", "/counter/customers/{customer_id}"): Case(COUNTER_DESK, _p("GET", "/counter/customers/NOPE"),
                                                      pages_counter_customer),
    ("POST", "/counter/customers/{customer_id}/idcheck"): Case(
        COUNTER_DESK, _p("POST", "/counter/customers/NOPE/idcheck", {"doc_type": "cn_ric", "doc_number": PERSON_ID}),
        why_no_objects="see the id-checks API case"),
    ("POST", "/counter/customers/{customer_id}/idcheck/clear"): Case(
        COUNTER_PAGE, _p("POST", "/counter/customers/NOPE/idcheck/clear"), why_no_objects="clears the caller's own check"),
    ("GET", "/counter/customers/{customer_id}/lines/{msisdn}"): Case(
        COUNTER_DESK, _p("GET", f"/counter/customers/NOPE/lines/{M}"), why_no_objects="staff see any line (masked)"),
    ("GET", "/counter/customers/{customer_id}/lines/{msisdn}/new"): Case(
        COUNTER_DESK, _p("GET", f"/counter/customers/NOPE/lines/{M}/new"), why_no_objects="needs the in-person check"),
    ("POST", "/counter/customers/{customer_id}/lines/{msisdn}/new"): Case(
        COUNTER_DESK, _p("POST", f"/counter/customers/NOPE/lines/{M}/new", {"kind": "close_line"}),
        why_no_objects="needs the in-person check: NOT_OWNER without it (API case)"),
    ("GET", "/counter/requests/{tracking_no}"): Case(COUNTER_PAGE, _p("GET", f"/counter/requests/{T}"),
                                                     pages_counter_requests),
    ("POST", "/counter/requests/{tracking_no}/review"): Case(COUNTER_PAGE, _p("POST", f"/counter/requests/{T}/review",
                                                                              {"decision": "reject", "reason": "x"}),
                                                             pages_counter_requests),
    ("POST", "/counter/requests/{tracking_no}/retry"): Case(COUNTER_PAGE, _p("POST", f"/counter/requests/{T}/retry"),
                                                            pages_counter_requests),
    ("POST", "/counter/requests/{tracking_no}/close"): Case(COUNTER_PAGE, _p("POST", f"/counter/requests/{T}/close",
                                                                             {"reason": "x"}), pages_counter_requests),
    ("GET", "/counter/queues"): Case(COUNTER_PAGE, _p("GET", "/counter/queues"), why_no_objects="back office queues"),
    ("POST", "/counter/complaints/{reference}/resolve"): Case(
        COUNTER_PAGE, _p("POST", "/counter/complaints/NOPE/resolve", {"resolution": "x"}),
        why_no_objects="staff resolve any complaint"),
    ("GET", "/enterprise"): Case(ENTERPRISE_PAGE, _p("GET", "/enterprise"), pages_enterprise_fleet),
    ("POST", "/enterprise/batches"): Case(ENTERPRISE_PAGE, _p("POST", "/enterprise/batches", {"msisdn": M}),
                                          why_no_objects="see the batches API case"),
    ("GET", "/enterprise/batches/{batch_id}"): Case(ENTERPRISE_PAGE, _p("GET", f"/enterprise/batches/{NO_BATCH}"),
                                                    pages_enterprise_batch),
    ("POST", "/enterprise/batches/{batch_id}/submit"): Case(ENTERPRISE_PAGE,
                                                            _p("POST", f"/enterprise/batches/{NO_BATCH}/submit"),
                                                            pages_enterprise_batch),
    ("POST", "/enterprise/batches/{batch_id}/resume"): Case(ENTERPRISE_PAGE,
                                                            _p("POST", f"/enterprise/batches/{NO_BATCH}/resume"),
                                                            pages_enterprise_batch),
    ("POST", "/enterprise/uploads"): Case(ENTERPRISE_PAGE, _p("POST", "/enterprise/uploads", {"reason": "x"}),
                                          why_no_objects="rows of another company: tests/e2e/test_fleet_upload.py"),
    ("GET", "/enterprise/batches/{batch_id}/results-zh.csv"): Case(
        ENTERPRISE_PAGE, _p("GET", f"/enterprise/batches/{NO_BATCH}/results-zh.csv"), pages_enterprise_batch),
    ("GET", "/enterprise/keys"): Case(ENTERPRISE_PAGE, _p("GET", "/enterprise/keys"), pages_enterprise_keys),
    ("POST", "/enterprise/keys"): Case(ENTERPRISE_PAGE, _p("POST", "/enterprise/keys", {"name": ""}),
                                       why_no_objects="a key is made for the caller's own company only"),
    ("POST", "/enterprise/keys/{key_id}/revoke"): Case(
        ENTERPRISE_PAGE, _p("POST", "/enterprise/keys/000000000000/revoke"), pages_enterprise_keys),
    ("GET", "/dashboard"): Case(DASHBOARD_PAGE, _p("GET", "/dashboard"), why_no_objects="aggregates only"),
    ("GET", "/dashboard/compliance.pdf"): Case(DASHBOARD_PAGE, _p("GET", "/dashboard/compliance.pdf"),
                                               why_no_objects="aggregates; numbers masked"),
    ("GET", "/dashboard/{name}.csv"): Case(DASHBOARD_PAGE, _p("GET", "/dashboard/volumes.csv"),
                                           why_no_objects="aggregates only"),
    ("GET", "/kiosk"): Case(PUBLIC_PAGE, _p("GET", "/kiosk"), why_no_objects="a form"),
    ("POST", "/kiosk/otp"): Case(PUBLIC_PAGE, _p("POST", "/kiosk/otp", {"doc_type": "cn_ric", "doc_number": PERSON_ID,
                                                                       "msisdn": M}),
                                 why_no_objects="same answer whether or not the document matches (kiosk tests)"),
    ("POST", "/kiosk/verify"): Case(PUBLIC_PAGE, _p("POST", "/kiosk/verify", {"msisdn": M, "otp": "000000", "ticket": "1.x"}),
                                    why_no_objects="logs in only with the document's ticket and the code"),
    ("POST", "/kiosk/logout"): Case(PUBLIC_PAGE, _p("POST", "/kiosk/logout"), why_no_objects="ends the caller's own session"),
    ("MOUNT", "/static"): Case(PUBLIC_PAGE, _p("GET", "/static/app.js"), why_no_objects="static files"),
    ("MOUNT", "/docs-assets"): Case(PUBLIC_PAGE, _p("GET", "/docs-assets/swagger-ui.css"), why_no_objects="Swagger UI files"),
}

KEYS = sorted(CASES)
PROTECTED = [k for k in KEYS if CASES[k].roles is not None]


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    world = build_world(f"sqlite:///{tmp_path_factory.mktemp('authz')}/authz.db")
    yield world
    world.c.dispose()


def _route_contexts(app):
    return list(routing.iter_route_contexts(app.routes))  # flattens included routers


def _is_page(ctx) -> bool:
    return type(ctx.original_route).__name__ == "PageRoute"


def _routes(app, pages: bool) -> set[tuple[str, str]]:
    out = set()
    for ctx in _route_contexts(app):
        if isinstance(ctx.original_route, Mount):
            if pages:
                out.add(("MOUNT", ctx.path))
            continue
        if _is_page(ctx) != pages:
            continue
        for method in ctx.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                out.add((method, ctx.path))
    return out


@pytest.mark.parametrize("pages", [False, True], ids=["api", "pages"])
def test_every_route_has_a_case(w, pages):
    table = PAGE_CASES if pages else CASES
    routes = _routes(w.client.app, pages)
    missing = routes - set(table)
    assert not missing, ("add an authorisation case to tests/e2e/test_authorisation.py "
                         f"({'PAGE_CASES' if pages else 'CASES'}) for: " + ", ".join(f"{m} {p}" for m, p in sorted(missing)))
    stale = set(table) - routes
    assert not stale, f"cases for routes that no longer exist: {sorted(stale)}"


def test_the_roles_in_the_table_are_the_roles_in_deps(w):
    """The table is checked against what the route declares (deps.require_roles), both ways."""
    for ctx in _route_contexts(w.client.app):
        if not isinstance(ctx.original_route, APIRoute) or _is_page(ctx):
            continue
        declared = None
        for dep in ctx.dependant.dependencies:
            if hasattr(dep.call, "roles"):
                declared = tuple(dep.call.roles)
            elif dep.call.__name__ == "get_principal" and declared is None:
                declared = ANY
        for method in ctx.methods:
            case = CASES.get((method, ctx.path))
            if case is not None:
                assert set(case.roles or ()) == set(declared or ()), (method, ctx.path, case.roles, declared)


@pytest.mark.parametrize("key", PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_missing_expired_tampered_revoked_or_garbage_tokens_get_401(w, key):
    probe = CASES[key].probe(w)
    for bad in BAD_TOKENS:
        r = call(w, bad, probe.method, probe.url, probe.json)
        assert r.status_code == 401, (bad, key, r.status_code, r.text)
        assert error_code(r) in ("UNAUTHENTICATED", "SESSION_INVALID"), r.text


# What a permitted caller's probe answers: lists 200, a probe of an object that does not exist 404,
# an import without a file 422. Every protected route is listed: a new one must say what it answers.
PERMITTED_STATUS = {
    ("GET", "/v1/admin/queues/escalations"): 200, ("GET", "/v1/admin/queues/review"): 200,
    ("GET", "/v1/auth/me"): 200, ("GET", "/v1/enterprise/lines"): 200, ("GET", "/v1/lines"): 200,
    ("GET", "/v1/requests"): 200,
    ("GET", "/v1/enterprise/batches/{batch_id}"): 404, ("GET", "/v1/enterprise/batches/{batch_id}/results"): 404,
    ("GET", "/v1/enterprise/batches/{batch_id}/results.csv"): 404, ("GET", "/v1/lines/{msisdn}/subscriptions"): 404,
    ("GET", "/v1/requests/{tracking_no}"): 404, ("GET", "/v1/requests/{tracking_no}/receipt"): 404,
    ("GET", "/v1/staff/customers/{customer_id}"): 404, ("POST", "/v1/admin/import"): 422,
    ("POST", "/v1/admin/requests/{tracking_no}/review"): 404, ("POST", "/v1/enterprise/batches"): 404,
    ("POST", "/v1/enterprise/batches/{batch_id}/submit"): 404, ("POST", "/v1/prechecks"): 404,
    ("POST", "/v1/requests"): 404, ("POST", "/v1/requests/{tracking_no}/confirm"): 404,
    ("POST", "/v1/requests/{tracking_no}/withdraw"): 404, ("POST", "/v1/staff/customers/search"): 404,
    ("POST", "/v1/staff/customers/{customer_id}/id-checks"): 404,
    ("GET", "/v1/lines/{msisdn}/history"): 404, ("POST", "/v1/assistant/messages"): 200,
    # partner keys and TMF622 (the probe's empty body is invalid; an unknown id is missing)
    ("POST", "/v1/enterprise/partner-keys"): 422, ("GET", "/v1/enterprise/partner-keys"): 200,
    ("DELETE", "/v1/enterprise/partner-keys/{key_id}"): 404, ("POST", f"{TMF}/productOrder"): 400,
    ("GET", f"{TMF}/productOrder"): 200, ("GET", f"{TMF}/productOrder/{{id}}"): 404,
    ("POST", f"{TMF}/cancelProductOrder"): 400, ("GET", f"{TMF}/cancelProductOrder"): 200,
    ("GET", f"{TMF}/cancelProductOrder/{{id}}"): 404, ("POST", f"{TMF}/hub"): 400, ("DELETE", f"{TMF}/hub/{{id}}"): 404,
}


def test_every_protected_route_says_what_a_permitted_caller_gets():
    assert sorted(k for k in PROTECTED if k != ("POST", "/v1/auth/logout")) == sorted(PERMITTED_STATUS)


@pytest.mark.parametrize("key", PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_each_role_is_let_in_or_refused_with_403(w, key):
    case = CASES[key]
    probe = case.probe(w)
    for actor in ACTORS:
        if key == ("POST", "/v1/auth/logout"):
            continue  # would end the shared sessions; see test_logout_ends_the_session
        r = call(w, actor, probe.method, probe.url, probe.json)
        if ROLE_OF[actor] in case.roles:
            # the exact answer a permitted caller gets for the probe (a 500 is not "let in")
            assert r.status_code == PERMITTED_STATUS[key], (actor, key, r.status_code, r.text)
        else:
            assert r.status_code == 403, (actor, key, r.status_code, r.text)
            if probe.url.startswith(TMF):
                assert r.json() == {"code": "FORBIDDEN", "reason": "this needs one of the roles: enterprise_admin",
                                    "message": "this needs one of the roles: enterprise_admin", "status": "403"}
            else:
                assert r.json() == {"error": {"code": "FORBIDDEN", "message": r.json()["error"]["message"],
                                              "details": None}}


@pytest.mark.parametrize("key", [k for k in KEYS if CASES[k].objects], ids=[f"{m} {p}" for m, p in KEYS if CASES[(m, p)].objects])
def test_objects_are_only_reachable_by_whom_they_belong_to(w, key):
    CASES[key].objects(w)


def test_every_case_without_object_checks_says_why():
    for key, case in CASES.items():
        assert case.objects or case.why_no_objects, key


PAGE_KEYS = sorted(PAGE_CASES)
PROTECTED_PAGES = [k for k in PAGE_KEYS if PAGE_CASES[k].roles is not None]


@pytest.mark.parametrize("key", PROTECTED_PAGES, ids=[f"{m} {p}" for m, p in PROTECTED_PAGES])
def test_pages_refuse_missing_expired_tampered_revoked_or_garbage_cookies(w, key):
    probe = PAGE_CASES[key].probe(w)
    before = counts(w)
    for bad in BAD_TOKENS:
        r = page(w, bad, probe.method, probe.url, probe.json)
        assert refused_page(r), (bad, key, r.status_code, r.headers.get("location"))
    assert counts(w) == before


# What a permitted caller's probe answers on a page: 200 (a form, a list, or a form back with its error
# beside the field), a probe of an object that does not exist 404 (the error page), a form posted without
# what it needs 422, or a 303 to exactly one place. A role missing from a row's dict gets the default (None key).
PAGE_PERMITTED: dict[tuple[str, str], int | tuple[int, str] | dict] = {
    ("GET", "/counter"): {None: 200, "reviewer": (303, "/counter/queues")},   # a reviewer works the queues
    ("GET", "/counter/queues"): 200, ("GET", "/dashboard"): 200, ("GET", "/dashboard/compliance.pdf"): 200,
    ("GET", "/dashboard/{name}.csv"): 200, ("GET", "/enterprise"): 200,
    ("POST", "/assistant"): 200,
    ("POST", "/counter/search"): 200,                                          # "No customer found." beside the field
    ("POST", "/counter/customers/{customer_id}/idcheck/clear"): (303, "/counter/customers/NOPE"),
    ("GET", "/counter/customers/{customer_id}"): 404, ("GET", "/counter/customers/{customer_id}/lines/{msisdn}"): 404,
    ("GET", "/counter/customers/{customer_id}/lines/{msisdn}/new"): 404,
    ("POST", "/counter/customers/{customer_id}/idcheck"): 404,
    ("POST", "/counter/customers/{customer_id}/lines/{msisdn}/new"): 404,
    ("GET", "/counter/requests/{tracking_no}"): 404, ("POST", "/counter/requests/{tracking_no}/review"): 404,
    ("POST", "/counter/requests/{tracking_no}/retry"): 404, ("POST", "/counter/requests/{tracking_no}/close"): 404,
    ("POST", "/counter/complaints/{reference}/resolve"): 404,
    ("GET", "/enterprise/batches/{batch_id}"): 404, ("GET", "/enterprise/batches/{batch_id}/results-zh.csv"): 404,
    ("POST", "/enterprise/batches"): 404, ("POST", "/enterprise/batches/{batch_id}/submit"): 404,
    ("POST", "/enterprise/batches/{batch_id}/resume"): 404, ("POST", "/enterprise/uploads"): 422,
    ("GET", "/enterprise/keys"): 200, ("POST", "/enterprise/keys"): 422,            # a key needs a name
    ("POST", "/enterprise/keys/{key_id}/revoke"): 404,
    ("GET", "/lines/{msisdn}"): 404, ("GET", "/lines/{msisdn}/close"): 404,
    ("GET", "/lines/{msisdn}/withdraw/{subscription_id}"): 404, ("GET", "/requests/{tracking_no}"): 404,
    ("POST", "/lines/{msisdn}/close"): 404, ("POST", "/lines/{msisdn}/end"): 404, ("POST", "/offers/{offer_id}"): 404,
    ("POST", "/requests/{tracking_no}/complaints"): 404, ("POST", "/requests/{tracking_no}/confirm"): 404,
    ("POST", "/requests/{tracking_no}/withdraw"): 404,
    # public pages, as an anonymous visitor gets them
    ("GET", "/"): 200, ("GET", "/enterprise/login"): 200, ("GET", "/staff/login"): 200, ("GET", "/kiosk"): 200,
    ("GET", "/verify"): 200, ("GET", "/verify/{code}"): 200, ("GET", "/lang/{code}"): (303, "/"),
    ("MOUNT", "/static"): 200, ("MOUNT", "/docs-assets"): 200,
    ("POST", "/login/otp"): 200,                                               # the code page (same for any number)
    ("POST", "/login/verify"): 422, ("POST", "/kiosk/otp"): 200, ("POST", "/kiosk/verify"): 422,
    ("POST", "/staff/login"): 401, ("POST", "/logout"): (303, "/"), ("POST", "/kiosk/logout"): (303, "/kiosk"),
}


def _expected_page(key: tuple[str, str], role: str | None) -> tuple[int, str | None]:
    want = PAGE_PERMITTED[key]
    if isinstance(want, dict):
        want = want.get(role, want[None])
    return want if isinstance(want, tuple) else (want, None)


def _answer(r) -> tuple[int, str | None]:
    return r.status_code, r.headers.get("location") if r.status_code in (301, 302, 303, 307, 308) else None


def test_every_page_says_what_a_permitted_caller_gets():
    assert sorted(PAGE_CASES) == sorted(PAGE_PERMITTED)


@pytest.mark.parametrize("key", PROTECTED_PAGES, ids=[f"{m} {p}" for m, p in PROTECTED_PAGES])
def test_pages_let_in_or_refuse_each_role(w, key):
    case = PAGE_CASES[key]
    probe = case.probe(w)
    for actor in ACTORS:
        r = page(w, actor, probe.method, probe.url, probe.json)
        if ROLE_OF[actor] in case.roles:
            # the exact answer a permitted caller gets (a 500, or any other page, is not "let in")
            assert _answer(r) == _expected_page(key, ROLE_OF[actor]), (actor, key, r.status_code, r.text[:300])
        else:
            assert refused_page(r), (actor, key, r.status_code, r.headers.get("location"))


PUBLIC_PAGES = [k for k in PAGE_KEYS if PAGE_CASES[k].roles is None]


@pytest.mark.parametrize("key", PUBLIC_PAGES, ids=[f"{m} {p}" for m, p in PUBLIC_PAGES])
def test_public_pages_answer_an_anonymous_visitor_exactly(w, key):
    probe = PAGE_CASES[key].probe(w)
    r = page(w, "anonymous", probe.method, probe.url, probe.json)
    assert _answer(r) == _expected_page(key, None), (key, r.status_code, r.text[:300])


@pytest.mark.parametrize("key", [k for k in PAGE_KEYS if k[0] == "POST"], ids=[f"{m} {p}" for m, p in PAGE_KEYS if m == "POST"])
def test_every_form_post_needs_its_csrf_token(w, key):
    case = PAGE_CASES[key]
    probe = case.probe(w)
    actor = next((a for a in ACTORS if case.roles and ROLE_OF[a] in case.roles), "sub1")
    before = counts(w)
    r = page(w, actor, probe.method, probe.url, probe.json, csrf=False)
    assert r.status_code in (403, 303) and (r.status_code == 403 or r.headers["location"].startswith(LOGIN_PAGES)), \
        (key, r.status_code)
    assert counts(w) == before


@pytest.mark.parametrize("key", [k for k in PAGE_KEYS if PAGE_CASES[k].objects],
                         ids=[f"{m} {p}" for m, p in PAGE_KEYS if PAGE_CASES[(m, p)].objects])
def test_pages_only_show_what_belongs_to_the_caller(w, key):
    PAGE_CASES[key].objects(w)


def test_every_page_case_without_object_checks_says_why():
    for key, case in PAGE_CASES.items():
        assert case.objects or case.why_no_objects, key


def test_cookie_sessions_cannot_change_anything_through_the_api(w):
    """The pages' cookie rides along with cross-site requests; a state change needs the header."""
    no = w.objects["req_sub1"]
    w.client.cookies.set("cd_session", w.tokens["sub1"])
    try:
        assert w.client.get(f"/v1/requests/{no}").status_code == 200  # reading by cookie is fine
        r = w.client.post(f"/v1/requests/{no}/withdraw")
        assert r.status_code == 401
        assert status_of(w, no) == "awaiting_confirmation"
    finally:
        w.client.cookies.clear()


def test_back_office_cannot_confirm_for_a_subscriber_and_other_stores_cannot_see_counter_requests(w):
    """An admin may read every request but never confirm one (that would skip the person's step-up);
    an agent only confirms what their own store took in person."""
    r = call(w, "admin", "POST", f"/v1/requests/{w.objects['req_sub1']}/confirm")
    assert r.status_code == 403
    assert call(w, "agent2", "GET", f"/v1/requests/{w.objects['req_agent1']}").status_code == 404
    assert status_of(w, w.objects["req_sub1"]) == "awaiting_confirmation"


def test_logout_ends_the_session(w):
    token = otp_login(w.client, "13900139000")
    assert w.client.get("/v1/auth/me", headers=bearer(token)).status_code == 200
    assert w.client.post("/v1/auth/logout", headers=bearer(token)).status_code == 204
    r = w.client.get("/v1/auth/me", headers=bearer(token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "SESSION_INVALID"


def test_a_token_expires(tmp_path):
    world = build_world(f"sqlite:///{tmp_path}/exp.db", token_ttl_minutes=30)
    h = world.h("sub1")
    world.clock.advance(minutes=29)
    assert world.client.get("/v1/lines", headers=h).status_code == 200
    world.clock.advance(minutes=1, seconds=1)
    r = world.client.get("/v1/lines", headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "SESSION_INVALID"
    world.c.dispose()


def test_the_session_belongs_to_the_person_not_the_login_number(tmp_path):
    """Closing the number used to log in ends no session: the person's other lines, requests and
    receipts stay reachable with the same token."""
    from canceldesk.domain.model import Line
    world = build_world(f"sqlite:///{tmp_path}/person.db")
    with world.c.uow() as uow:
        uow.session.add(Line(msisdn="13800138001", customer_id="C001", cash_balance=0))
        uow.commit()
    h = world.h("sub1")  # logged in with 13800138000
    body = {"kind": "close_line", "msisdn": "13800138000", "acknowledged_warnings": ["GIFT_BALANCE_FORFEIT"]}
    # the open cancel_renewal request covers the line: withdraw it first
    world.client.post(f"/v1/requests/{world.objects['req_sub1']}/withdraw", headers=h)
    no = world.client.post("/v1/requests", json=body, headers=h).json()["tracking_no"]
    r = world.client.post(f"/v1/requests/{no}/confirm", json={"verification": {"service_password": "135790"}}, headers=h)
    assert r.json()["status"] == "completed", r.text
    lines = {l["msisdn"]: l["status"] for l in world.client.get("/v1/lines", headers=h).json()["lines"]}
    assert lines == {"13800138000": "frozen", "13800138001": "active"}
    assert world.client.get(f"/v1/requests/{no}/receipt", headers={**h, "Accept": "application/json"}).status_code == 200
    world.c.dispose()
