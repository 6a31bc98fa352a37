"""Validation of the import document and JSON Lines feed: every rule, with the path it reports.

Pure: no database. References to records that are not in the input are resolved through a
`lookup` callable, which the importer backs with the database.
"""
from __future__ import annotations

import copy
import io
import json
from datetime import date

import pytest
from stdnum.cn import ric

from canceldesk.demo.data import build_demo_document
from canceldesk.service_layer.import_validation import (MAX_ERRORS, Problems, Validator, iter_jsonl,
                                                        validate_document_dict, validate_jsonl_stream)

RIC = "11010519491231002X"          # valid (GB 11643 check character X)
USCC = "91350100M000100Y43"         # valid unified social credit code


def contract_doc() -> dict:
    """The example of CONTRACT.md ("Import document")."""
    return {
        "products": [
            {"code": "PLAN-58", "kind": "plan", "name": {"zh": "58元套餐", "en": "58 plan"},
             "price": 5800, "period": "month", "unsubscribe_effect": "end_of_cycle", "refund": "none"},
            {"code": "MEM-VIDEO", "kind": "membership", "name": {"zh": "视频会员", "en": "Video membership"},
             "price": 1500, "period": "month", "unsubscribe_effect": "end_of_cycle", "refund": "none"},
        ],
        "customers": [
            {"id": "C001", "kind": "person", "name": "张三",
             "id_document": {"type": "cn_ric", "number": RIC}},
            {"id": "E001", "kind": "enterprise", "name": "某某电销有限公司",
             "id_document": {"type": "cn_uscc", "number": USCC},
             "admins": [{"msisdn": "13800000001", "name": "李四"}]},
        ],
        "lines": [
            {"msisdn": "13800138000", "customer_id": "C001", "status": "active",
             "service_password": "135790", "cash_balance": 5000, "gift_balance": 1000,
             "deposit": 0, "unbilled_usage": 320, "arrears": 0,
             "primary_msisdn": None, "port_out_pending": False,
             "contract": {"ends_on": "2027-06-30", "early_termination": "block"},
             "bindings": [{"kind": "bank", "name": "招商银行"}, {"kind": "social", "name": "微信"}]},
        ],
        "subscriptions": [
            {"id": "S001", "msisdn": "13800138000", "product": "MEM-VIDEO",
             "period_start": "2026-11-10", "period_end": "2026-12-10", "auto_renew": True},
        ],
    }


def errors(doc, lookup=None) -> list[dict]:
    return validate_document_dict(doc, lookup).errors


def paths(doc, lookup=None) -> list[str]:
    return [e["path"] for e in errors(doc, lookup)]


def jsonl(records: list) -> io.BytesIO:
    return io.BytesIO("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                              for r in records).encode())


# ---- valid input --------------------------------------------------------------------------
def test_contract_example_is_valid():
    assert errors(contract_doc()) == []


@pytest.mark.parametrize("today", [date(2026, 1, 31), date(2028, 2, 29), date.today()], ids=str)
def test_demo_document_is_valid(today):
    assert errors(build_demo_document(today)) == []


def test_sections_are_optional_and_may_be_null():
    assert errors({}) == []
    assert errors({"products": None, "lines": []}) == []


def test_optional_fields_may_be_omitted_or_null():
    doc = contract_doc()
    line = doc["lines"][0]
    for k in ("service_password", "cash_balance", "gift_balance", "deposit", "unbilled_usage", "arrears",
              "primary_msisdn", "port_out_pending", "bindings"):
        line.pop(k)
    line["contract"] = None
    doc["subscriptions"][0]["started_on"] = None
    doc["products"][0].update(partner=None, currency=None)
    assert errors(doc) == []


def test_rows_are_normalised():
    v = Validator()
    line = dict(contract_doc()["lines"][0], msisdn="+86 138-0013-8000", installment_due=124900,
                contract={"ends_on": "2027-06-30", "early_termination": {"fee": 20000}})
    row = v.check("line", line, 0)
    assert row["msisdn"] == "13800138000"
    assert (row["contract_ends_on"], row["contract_early_termination"], row["contract_fee"]) == \
        (date(2027, 6, 30), "fee", 20000)
    assert row["installment_due"] == 124900 and row["bindings"][0] == {"kind": "bank", "name": "招商银行"}
    cust = v.check("customer", {"id": "C9", "kind": "person", "name": " 王五 ",
                                "id_document": {"type": "cn_ric", "number": RIC.lower()}}, 1)
    assert cust["name"] == "王五" and cust["id_doc_number"] == RIC and cust["id_doc_type"] == "cn_ric"
    product = v.check("product", contract_doc()["products"][0], 0)
    assert product["currency"] is None and product["name_zh"] == "58元套餐"


# ---- one rule at a time -------------------------------------------------------------------
def test_unknown_fields_are_errors_at_every_level():
    doc = contract_doc()
    doc["nickname"] = []
    doc["customers"][0]["nickname"] = "三儿"
    doc["customers"][0]["id_document"]["issued_by"] = "x"
    doc["lines"][0]["contract"]["months"] = 24
    doc["lines"][0]["bindings"][1]["since"] = "2020-01-01"
    doc["products"][0]["name"]["fr"] = "forfait"
    assert sorted(paths(doc)) == sorted([
        "nickname", "customers[0].nickname", "customers[0].id_document.issued_by",
        "lines[0].contract.months", "lines[0].bindings[1].since", "products[0].name.fr"])


def test_subscription_status_is_not_accepted():
    doc = contract_doc()
    doc["subscriptions"][0]["status"] = "active"
    [e] = errors(doc)
    assert e["path"] == "subscriptions[0].status" and "not imported" in e["message"]


def test_bad_msisdn_reports_its_path():
    doc = contract_doc()
    doc["lines"][0]["msisdn"] = "1380013800"  # 10 digits
    doc["subscriptions"][0]["msisdn"] = "1380013800"
    errs = errors(doc)
    assert [e["path"] for e in errs] == ["lines[0].msisdn", "subscriptions[0].msisdn"]
    assert "11 digits" in errs[0]["message"]  # says what a number looks like


def test_bad_admin_msisdn_reports_its_path():
    doc = contract_doc()
    doc["customers"][1]["admins"].append({"msisdn": "02088888888", "name": "王五"})
    assert paths(doc) == ["customers[1].admins[1].msisdn"]


@pytest.mark.parametrize("amount, hint", [(50.0, "whole number"), (50.5, "whole number"), (-1, "negative"),
                                          (True, "true/false"), ("5000", "string"), (10**16, "large"),
                                          ({"fen": 1}, "integer")])
@pytest.mark.parametrize("field", ["cash_balance", "gift_balance", "deposit", "unbilled_usage", "arrears",
                                   "installment_due"])
def test_money_must_be_non_negative_integer_fen(field, amount, hint):
    doc = contract_doc()
    doc["lines"][0][field] = amount
    [e] = errors(doc)
    assert e["path"] == f"lines[0].{field}" and hint in e["message"]


def test_price_and_fee_are_money_too():
    doc = contract_doc()
    doc["products"][0]["price"] = 58.0
    doc["lines"][0]["contract"] = {"ends_on": "2027-06-30", "early_termination": {"fee": -100}}
    assert paths(doc) == ["products[0].price", "lines[0].contract.early_termination.fee"]


def test_bad_ric_check_digit_and_number_not_echoed():
    doc = contract_doc()
    wrong = RIC[:-1] + "1"
    doc["customers"][0]["id_document"]["number"] = wrong
    [e] = errors(doc)
    assert e["path"] == "customers[0].id_document.number"
    assert wrong not in e["message"] and "张三" not in e["message"]


def test_ric_fast_path_still_checks_each_number():
    """After one valid number of an area and year, others of the same area/year are still checked."""
    body = RIC[:17]
    other = body[:14] + "003"
    doc = contract_doc()
    doc["customers"].append({"id": "C002", "kind": "person", "name": "李四",
                             "id_document": {"type": "cn_ric", "number": other + "0"}})
    doc["customers"].append({"id": "C003", "kind": "person", "name": "王五",
                             "id_document": {"type": "cn_ric", "number": other + ric.calc_check_digit(other + "0")}})
    doc["customers"].append({"id": "C004", "kind": "person", "name": "赵六",
                             "id_document": {"type": "cn_ric", "number": "110105" + "19490231" + "0031"}})
    assert paths(doc) == ["customers[2].id_document.number", "customers[4].id_document.number"]


def test_uscc_for_a_person_and_ric_for_an_enterprise():
    doc = contract_doc()
    doc["customers"][0]["id_document"] = {"type": "cn_uscc", "number": USCC}
    doc["customers"][1]["id_document"] = {"type": "cn_ric", "number": RIC}
    assert paths(doc) == ["customers[0].id_document.type", "customers[1].id_document.type"]


def test_unknown_document_type():
    doc = contract_doc()
    doc["customers"][0]["id_document"]["type"] = "library_card"
    assert paths(doc) == ["customers[0].id_document.type"]


def test_admins_only_for_enterprises():
    doc = contract_doc()
    doc["customers"][0]["admins"] = [{"msisdn": "13800000002", "name": "王五"}]
    doc["customers"][1]["admins"].append({"msisdn": "138 0000 0001", "name": "李四"})  # same admin twice
    assert paths(doc) == ["customers[0].admins", "customers[1].admins[1].msisdn"]


def test_missing_references():
    doc = contract_doc()
    doc["lines"][0]["customer_id"] = "C404"
    doc["lines"][0]["primary_msisdn"] = "13900000000"
    doc["subscriptions"][0]["product"] = "NOPE"
    errs = errors(doc)
    assert [e["path"] for e in errs] == ["lines[0].customer_id", "lines[0].primary_msisdn", "subscriptions[0].product"]
    assert "C404" in errs[0]["message"] and "database" in errs[0]["message"]


def test_references_found_in_the_database():
    doc = {"subscriptions": [{"id": "S9", "msisdn": "13800138000", "product": "PLAN-58",
                              "period_start": "2026-11-01", "period_end": "2026-12-01", "auto_renew": False}]}
    asked = {}

    def lookup(rtype, keys):
        asked[rtype] = set(keys)
        return {"13800138000"} if rtype == "line" else set()

    assert paths(doc, lookup) == ["subscriptions[0].product"]
    assert asked == {"line": {"13800138000"}, "product": {"PLAN-58"}}


def test_a_line_may_reference_a_customer_defined_later():
    feed = jsonl([
        {"type": "subscription", "id": "S1", "msisdn": "13800138000", "product": "P1",
         "period_start": "2026-11-01", "period_end": "2026-12-01", "auto_renew": True},
        {"type": "line", "msisdn": "13800138000", "customer_id": "C1", "status": "active",
         "primary_msisdn": "13800138001"},
        {"type": "line", "msisdn": "13800138001", "customer_id": "C1", "status": "active"},
        {"type": "customer", "id": "C1", "kind": "person", "name": "张三",
         "id_document": {"type": "cn_ric", "number": RIC}},
        {"type": "product", "code": "P1", "kind": "vas", "name": {"zh": "彩铃", "en": "Ringback"}, "price": 500,
         "period": "month", "unsubscribe_effect": "end_of_cycle", "refund": "none"},
    ])
    problems = Problems()
    v = Validator(problems, jsonl=True)
    for rtype, pos, rec in iter_jsonl(feed, problems):
        v.check(rtype, rec, pos)
    assert v.finish().errors == []
    assert v.ordered is False and v.counts == {"product": 1, "customer": 1, "line": 2, "subscription": 1}


def test_line_cannot_be_its_own_primary():
    doc = contract_doc()
    doc["lines"][0]["primary_msisdn"] = "+8613800138000"
    assert paths(doc) == ["lines[0].primary_msisdn"]


def test_duplicate_keys_are_errors_even_when_written_differently():
    doc = contract_doc()
    doc["lines"].append(dict(doc["lines"][0], msisdn="+86 138 0013 8000"))
    doc["customers"].append(copy.deepcopy(doc["customers"][0]))
    doc["products"].append(copy.deepcopy(doc["products"][0]))
    doc["subscriptions"].append(copy.deepcopy(doc["subscriptions"][0]))
    errs = errors(doc)
    assert [e["path"] for e in errs] == ["products[2].code", "customers[2].id", "lines[1].msisdn",
                                         "subscriptions[1].id"]
    assert "lines[0]" in errs[2]["message"] and "13800138000" in errs[2]["message"]


@pytest.mark.parametrize("start, end", [("2026-12-10", "2026-12-10"), ("2026-12-10", "2026-11-10")])
def test_period_start_must_be_before_period_end(start, end):
    doc = contract_doc()
    doc["subscriptions"][0].update(period_start=start, period_end=end)
    assert paths(doc) == ["subscriptions[0].period_end"]


@pytest.mark.parametrize("value", ["2026/11/10", "20261110", "2026-02-30", "２０２６-11-10", 20261110])
def test_dates_are_iso(value):
    doc = contract_doc()
    doc["subscriptions"][0]["period_start"] = value
    assert paths(doc) == ["subscriptions[0].period_start"]


def test_started_on_not_after_period_start():
    doc = contract_doc()
    doc["subscriptions"][0]["started_on"] = "2026-11-11"
    assert paths(doc) == ["subscriptions[0].started_on"]


@pytest.mark.parametrize("text", ["张\x00三", "张三\n", "a\tb", "x\u2028y", "\x7f"])
def test_control_characters_are_rejected(text):
    doc = contract_doc()
    doc["customers"][0]["name"] = text
    doc["lines"][0]["bindings"][0]["name"] = text
    doc["products"][0]["name"]["en"] = text
    assert paths(doc) == ["products[0].name.en", "customers[0].name", "lines[0].bindings[0].name"]


def test_lengths():
    doc = contract_doc()
    doc["customers"][0]["name"] = "张" * 101
    doc["products"][0]["name"]["zh"] = "套" * 201
    doc["products"][1]["partner"] = "p" * 65
    doc["lines"][0]["bindings"][0]["name"] = "银" * 101
    doc["customers"][1]["id"] = "E" * 65
    doc["subscriptions"][0]["id"] = "S 1"
    doc["customers"][1]["admins"][0]["name"] = ""
    assert sorted(paths(doc)) == sorted([
        "customers[0].name", "products[0].name.zh", "products[1].partner", "lines[0].bindings[0].name",
        "customers[1].id", "subscriptions[0].id", "customers[1].admins[0].name"])


@pytest.mark.parametrize("value", [135790, "13579", "1357901", "abcdef", "１３５７９０"])
def test_service_password_is_six_digits_and_never_echoed(value):
    doc = contract_doc()
    doc["lines"][0]["service_password"] = value
    [e] = errors(doc)
    assert e["path"] == "lines[0].service_password" and str(value) not in e["message"]


def test_enums_and_booleans():
    doc = contract_doc()
    doc["products"][0]["kind"] = "bundle"
    doc["products"][0]["period"] = "fortnight"
    doc["products"][1]["refund"] = ["none"]
    doc["lines"][0]["status"] = "frozen"
    doc["lines"][0]["port_out_pending"] = "no"
    doc["lines"][0]["bindings"][0]["kind"] = "crypto"
    doc["lines"][0]["contract"]["early_termination"] = "fee"
    doc["subscriptions"][0]["auto_renew"] = 1
    assert sorted(paths(doc)) == sorted([
        "products[0].kind", "products[0].period", "products[1].refund", "lines[0].status",
        "lines[0].port_out_pending", "lines[0].bindings[0].kind", "lines[0].contract.early_termination",
        "subscriptions[0].auto_renew"])


def test_required_fields():
    doc = contract_doc()
    del doc["products"][0]["price"]
    doc["customers"][0]["id_document"] = {"type": "cn_ric"}
    doc["lines"][0]["customer_id"] = None
    del doc["subscriptions"][0]["auto_renew"]
    del doc["lines"][0]["contract"]["ends_on"]
    assert sorted(paths(doc)) == sorted([
        "products[0].price", "customers[0].id_document.number", "lines[0].customer_id",
        "lines[0].contract.ends_on", "subscriptions[0].auto_renew"])


def test_shapes():
    assert paths([]) == [""]
    assert paths({"lines": {"msisdn": "13800138000"}}) == ["lines"]
    assert paths({"lines": ["13800138000"]}) == ["lines[0]"]


# ---- several errors together ---------------------------------------------------------------
def test_several_errors_are_reported_together_with_their_paths():
    doc = contract_doc()
    doc["lines"].append(dict(doc["lines"][0], msisdn="13900139000", cash_balance=12.5, status="closed"))
    doc["lines"].append(dict(doc["lines"][0], msisdn="13700137000", customer_id="C404"))
    doc["lines"].append(dict(doc["lines"][0], msisdn="10086"))
    doc["customers"][1]["id_document"]["number"] = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    doc["subscriptions"][0]["period_end"] = "2026-11-01"
    problems = validate_document_dict(doc)
    assert [e["path"] for e in problems.errors] == [
        "customers[1].id_document.number",
        "lines[1].status", "lines[1].cash_balance",
        "lines[3].msisdn",
        "subscriptions[0].period_end",
        "lines[2].customer_id",  # references are checked once the whole input is read
    ]
    assert problems.count == 6


def test_error_list_is_capped_but_all_are_counted():
    doc = {"lines": [{"msisdn": "1", "customer_id": "C1", "status": "active"} for _ in range(MAX_ERRORS + 500)]}
    problems = validate_document_dict(doc, lambda rtype, keys: keys)
    assert len(problems.errors) == MAX_ERRORS and problems.count == MAX_ERRORS + 500


# ---- JSON Lines ----------------------------------------------------------------------------
def test_jsonl_paths_use_line_numbers():
    doc = contract_doc()
    records = [dict(type="product", **p) for p in doc["products"]]
    records += [dict(type="customer", **c) for c in doc["customers"]]
    records += ["", "   "]  # blank lines are skipped but counted
    records += [dict(type="line", **dict(doc["lines"][0], msisdn="12345", arrears=-5))]
    records += ["{not json", "[1, 2]", json.dumps({"msisdn": "13800138000"}), json.dumps({"type": "sim"})]
    records += [dict(type="subscription", **doc["subscriptions"][0])]
    problems = validate_jsonl_stream(jsonl(records))
    assert [e["path"] for e in problems.errors] == [
        "line 7.msisdn", "line 7.arrears", "line 8", "line 9", "line 10.type", "line 11.type",
        "line 12.msisdn",  # the line was rejected, so the subscription's number is unknown
    ]


def test_jsonl_equivalent_to_document():
    doc = contract_doc()
    records = [dict(type=t, **r) for section, t in (("products", "product"), ("customers", "customer"),
                                                   ("lines", "line"), ("subscriptions", "subscription"))
               for r in doc[section]]
    feed = jsonl(records)
    feed = io.BytesIO(b"\xef\xbb\xbf" + feed.getvalue())  # a byte-order mark is tolerated
    assert validate_jsonl_stream(feed).errors == []


def test_jsonl_duplicate_reports_first_line():
    line = {"type": "line", "msisdn": "13800138000", "customer_id": "C1", "status": "active"}
    problems = validate_jsonl_stream(jsonl([line, line]), lambda rtype, keys: keys)
    assert problems.errors == [{"path": "line 2.msisdn", "message": problems.errors[0]["message"]}]
    assert "line 1" in problems.errors[0]["message"]


def test_jsonl_invalid_utf8():
    problems = validate_jsonl_stream(io.BytesIO(b'{"type": "product", "code": "\xff"}\n'))
    assert [e["path"] for e in problems.errors] == ["line 1"]
