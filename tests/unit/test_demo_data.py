"""The demo document: valid identifiers, consistent references, every scenario present.

Checked for several `today`s, including month ends and a leap day, because every date in the
document is computed from `today`.
"""
from __future__ import annotations

import json
import tomllib
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import phonenumbers
import pytest
from stdnum.cn import ric, uscc

from canceldesk.demo.data import DEMO_ENTERPRISE_ADMIN, DEMO_LOGINS, build_demo_document

TODAYS = [date(2026, 1, 31), date(2026, 2, 28), date(2028, 2, 29), date(2026, 3, 1),
          date(2026, 12, 31), date(2027, 6, 15), date.today()]

CN_PACK = tomllib.loads((Path(__file__).parents[2] / "src/canceldesk/policies/cn.toml").read_text("utf-8"))

ALLOWED = {
    "products": {"code", "kind", "name", "price", "period", "unsubscribe_effect", "refund", "partner", "currency"},
    "customers": {"id", "kind", "name", "id_document", "admins"},
    "lines": {"msisdn", "customer_id", "status", "service_password", "cash_balance", "gift_balance", "deposit",
              "unbilled_usage", "arrears", "primary_msisdn", "port_out_pending", "contract", "bindings",
              "installment_due"},
    "subscriptions": {"id", "msisdn", "product", "period_start", "period_end", "auto_renew", "started_on", "usage"},
}
MONEY = ("cash_balance", "gift_balance", "deposit", "unbilled_usage", "arrears", "installment_due")


@pytest.fixture(params=TODAYS, ids=str)
def today(request) -> date:
    return request.param


@pytest.fixture
def doc(today):
    return build_demo_document(today)


def d(s: str) -> date:
    return date.fromisoformat(s)


def by(records, key):
    return {r[key]: r for r in records}


def contract_block(line) -> bool:
    return bool(line["contract"]) and line["contract"]["early_termination"] == "block"


def contract_fee(line) -> int:
    c = line["contract"]
    return c["early_termination"]["fee"] if c and isinstance(c["early_termination"], dict) else 0


def valid_mobile(msisdn: str) -> bool:
    n = phonenumbers.parse(msisdn, "CN")
    return (phonenumbers.is_valid_number(n) and n.country_code == 86 and str(n.national_number) == msisdn
            and phonenumbers.number_type(n) == phonenumbers.PhoneNumberType.MOBILE)


def test_shape_only_contract_fields_and_json(doc):
    assert set(doc) == set(ALLOWED)
    for section, allowed in ALLOWED.items():
        assert doc[section], section
        for record in doc[section]:
            assert set(record) <= allowed, (section, set(record) - allowed)
    for line in doc["lines"]:
        for field in MONEY:
            if field in line:
                assert type(line[field]) is int and line[field] >= 0, (line["msisdn"], field)
        assert isinstance(line["bindings"], list)
        assert line["status"] in {"active", "inactive"}
        assert line["service_password"].isdigit() and len(line["service_password"]) == 6
    for p in doc["products"]:
        assert type(p["price"]) is int and p["price"] > 0
        assert set(p["name"]) == {"zh", "en"} and all(p["name"].values())
    assert json.loads(json.dumps(doc, ensure_ascii=False)) == doc


def test_every_msisdn_is_a_valid_distinct_mainland_mobile(doc):
    msisdns = [line["msisdn"] for line in doc["lines"]]
    assert len(msisdns) == len(set(msisdns)), [m for m, c in Counter(msisdns).items() if c > 1]
    admins = [a["msisdn"] for c in doc["customers"] for a in c.get("admins") or []]
    for msisdn in msisdns + admins:
        assert valid_mobile(msisdn), msisdn


def test_every_identity_document_is_valid(doc):
    types = Counter()
    for c in doc["customers"]:
        t, number = c["id_document"]["type"], c["id_document"]["number"]
        types[t] += 1
        if t == "cn_ric":
            assert c["kind"] == "person"
            assert ric.is_valid(number), number
        elif t == "cn_uscc":
            assert c["kind"] == "enterprise"
            assert uscc.is_valid(number), number
        else:
            assert t == "passport" and c["kind"] == "person"
            assert number.isalnum() and 5 <= len(number) <= 20
    assert types["cn_ric"] >= 8 and types["cn_uscc"] == 1
    ids = [c["id"] for c in doc["customers"]]
    assert len(ids) == len(set(ids))


def test_references_resolve(doc):
    customers, lines, products = by(doc["customers"], "id"), by(doc["lines"], "msisdn"), by(doc["products"], "code")
    assert len(products) == len(doc["products"])
    for line in doc["lines"]:
        assert line["customer_id"] in customers
        if line["primary_msisdn"] is not None:
            assert line["primary_msisdn"] in lines and line["primary_msisdn"] != line["msisdn"]
    ids = [s["id"] for s in doc["subscriptions"]]
    assert len(ids) == len(set(ids))
    for s in doc["subscriptions"]:
        assert s["msisdn"] in lines and s["product"] in products
    pairs = [(s["msisdn"], s["product"]) for s in doc["subscriptions"]]
    assert len(pairs) == len(set(pairs))


def test_every_cycle_contains_today(doc, today):
    products = by(doc["products"], "code")
    for s in doc["subscriptions"]:
        start, end = d(s["period_start"]), d(s["period_end"])
        assert start <= today < end, s
        days = (end - start).days
        period = products[s["product"]]["period"]
        assert days in ({28, 29, 30, 31} if period == "month" else {365, 366}), (s, days)
        if "started_on" in s:
            assert d(s["started_on"]) <= start


def test_products_cover_plans_vas_and_partner_memberships(doc):
    kinds = Counter(p["kind"] for p in doc["products"])
    assert kinds["plan"] >= 2 and kinds["vas"] >= 4 and kinds["membership"] >= 3
    memberships = [p for p in doc["products"] if p["kind"] == "membership"]
    assert all(p["partner"] for p in memberships)
    assert any(p["period"] == "year" and p["unsubscribe_effect"] == "immediate" and p["refund"] == "prorated"
               for p in memberships)
    assert all(p["refund"] == "none" for p in doc["products"] if p["kind"] == "plan")


def test_enterprise_has_fifty_lines_three_of_them_blocked(doc):
    enterprise = next(c for c in doc["customers"] if c["kind"] == "enterprise")
    assert enterprise["id"] == DEMO_ENTERPRISE_ADMIN["enterprise_id"]
    assert enterprise["admins"] == [{"msisdn": DEMO_ENTERPRISE_ADMIN["msisdn"], "name": DEMO_ENTERPRISE_ADMIN["name"]}]
    fleet = [line for line in doc["lines"] if line["customer_id"] == enterprise["id"]]
    assert len(fleet) == 50
    assert all(line["status"] == "active" for line in fleet)
    plans = {p["code"] for p in doc["products"] if p["kind"] == "plan"}
    with_plan = {s["msisdn"] for s in doc["subscriptions"] if s["product"] in plans}
    assert all(line["msisdn"] in with_plan for line in fleet)
    assert sum(line["arrears"] > 0 for line in fleet) == 1
    assert sum(line["port_out_pending"] for line in fleet) == 1
    assert sum(contract_block(line) for line in fleet) == 1
    blocked = [line for line in fleet if line["arrears"] or line["port_out_pending"] or line["contract"]]
    assert len(blocked) == 3


def test_every_scenario_is_present(doc, today):
    lines = doc["lines"]
    active = [line for line in lines if line["status"] == "active"]
    assert any(line["arrears"] > 0 for line in active)
    assert any(line["port_out_pending"] for line in active)
    assert any(contract_block(line) and d(line["contract"]["ends_on"]) > today + timedelta(days=150) for line in active)
    assert any(contract_fee(line) > 0 for line in active)
    assert any(line.get("installment_due", 0) > 0 for line in active)
    assert any(line["gift_balance"] > 0 for line in active)
    assert any({b["kind"] for b in line["bindings"]} >= {"bank", "payment", "social"} for line in active)
    assert any(line["status"] == "inactive" for line in lines)
    secondaries = Counter(line["primary_msisdn"] for line in active if line["primary_msisdn"])
    assert any(n >= 2 for n in secondaries.values())
    tomorrow = (today + timedelta(days=1)).isoformat()
    members = {p["code"] for p in doc["products"] if p["kind"] == "membership"}
    assert any(s["period_end"] == tomorrow and s["auto_renew"] and s["product"] in members
               for s in doc["subscriptions"])
    review_over = CN_PACK["review_refund_over"]
    assert any(line["cash_balance"] + line["deposit"] - line["unbilled_usage"] > review_over for line in active)


def test_no_line_falls_into_arrears_by_accident(doc):
    """Closing any line not meant to show ARREARS leaves a non-negative refund."""
    for line in doc["lines"]:
        if line["arrears"] == 0:
            left = line["cash_balance"] + line["deposit"] - line["unbilled_usage"] - contract_fee(line)
            assert left >= 0, line["msisdn"]


def test_main_person_has_something_of_every_kind(doc):
    main = DEMO_LOGINS[0]["msisdn"]
    line = by(doc["lines"], "msisdn")[main]
    assert line["status"] == "active" and not line["arrears"] and not line["contract"] and not line["bindings"]
    assert not line["port_out_pending"] and not line["gift_balance"] and not line.get("installment_due")
    assert 0 < line["unbilled_usage"] < line["cash_balance"]
    products = by(doc["products"], "code")
    mine = [(s, products[s["product"]]) for s in doc["subscriptions"] if s["msisdn"] == main]
    assert any(p["kind"] == "vas" and p["unsubscribe_effect"] == "end_of_cycle" for _, p in mine)
    assert any(p["kind"] == "vas" and p["unsubscribe_effect"] == "immediate" and p["refund"] == "prorated" for _, p in mine)
    assert any(p["kind"] == "membership" and s["auto_renew"] for s, p in mine)


def test_demo_logins_belong_to_real_name_persons(doc):
    lines, customers = by(doc["lines"], "msisdn"), by(doc["customers"], "id")
    assert len(DEMO_LOGINS) >= 8
    assert len({x["msisdn"] for x in DEMO_LOGINS}) == len(DEMO_LOGINS)
    for login in DEMO_LOGINS:
        assert set(login) == {"msisdn", "name", "id_last6", "service_password", "scenario"}
        line = lines[login["msisdn"]]
        assert line["status"] == "active" and line["service_password"] == login["service_password"]
        person = customers[line["customer_id"]]
        assert person["kind"] == "person" and person["name"] == login["name"]
        assert login["id_last6"] == person["id_document"]["number"][-6:].upper()
        assert login["scenario"].strip()
    persons = {c["id"] for c in doc["customers"] if c["kind"] == "person"}
    assert {lines[x["msisdn"]]["customer_id"] for x in DEMO_LOGINS} == persons
    assert DEMO_ENTERPRISE_ADMIN["msisdn"] in lines


def test_deterministic_and_dated_from_today(today):
    assert build_demo_document(today) == build_demo_document(today)
    later = build_demo_document(today + timedelta(days=40))
    assert later["customers"] == build_demo_document(today)["customers"]
    assert later["subscriptions"] != build_demo_document(today)["subscriptions"]
