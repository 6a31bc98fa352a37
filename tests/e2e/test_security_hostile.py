"""Hostile input on every text field of the JSON API (hypothesis): Unicode, full-width digits, emoji,
control characters, SQL fragments, very long strings. Always a clear 4xx (or a legitimate 2xx for
a value that really is valid), never a 5xx, and a refusal writes nothing.

Runs on SQLite and, where reachable, on PostgreSQL (which refuses NUL in text: a classic 500)."""
from __future__ import annotations

import copy
import json
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from canceldesk.adapters import orm
from canceldesk.domain.identifiers import InvalidIdentifier, normalize_msisdn
from secworld import MISSING_TRACKING, build_world
from support import PERSON_ID, PG_URL

SQL = ["' OR '1'='1", "'; DROP TABLE requests; --", "\" OR \"\"=\"", "1) UNION SELECT token_hash FROM sessions --",
       "%00", "\\u0000", "${7*7}", "{{7*7}}", "<script>alert(1)</script>", "../../etc/passwd"]
hostile = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "So", "Nd"]), max_size=30),
    st.text(alphabet="０１２３４５６７８９＋－　1386", min_size=1, max_size=20),
    st.sampled_from(SQL),
    st.sampled_from(["\x00", "a\x00b", "\x1b[31m", "\u202e", "\ud800", "🙂" * 10, "١٣٨٠٠١٣٨٠٠٠", "\ufeff13800138000"]),
    st.text(min_size=200, max_size=5000),
    st.integers(), st.none(), st.booleans(), st.lists(st.text(max_size=3), max_size=3), st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)

TABLES = ("requests", "request_events", "ledger_entries", "receipts", "batches", "batch_items", "customers", "lines",
          "subscriptions", "staff_users", "sessions", "complaints")


def _msisdn_ok(v) -> bool:
    try:
        normalize_msisdn(v)
        return True
    except InvalidIdentifier:
        return False


ANY_VALUE = lambda v: True  # noqa: E731
FREE_TEXT = lambda v: v is None or isinstance(v, str) and not any(  # noqa: E731 - anything but control codes
    unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\r\t" for ch in v)
NEVER = lambda v: False  # noqa: E731

# (label, actor, method, url, valid body, path to the field, which values may legitimately succeed)
FIELDS = [
    ("otp.msisdn", None, "POST", "/v1/auth/otp", {"msisdn": "13800138000"}, ("msisdn",), _msisdn_ok),
    ("token.msisdn", None, "POST", "/v1/auth/token", {"msisdn": "13800138000", "otp": "000000"}, ("msisdn",), NEVER),
    ("token.otp", None, "POST", "/v1/auth/token", {"msisdn": "13800138000", "otp": "000000"}, ("otp",), NEVER),
    ("staff.username", None, "POST", "/v1/auth/staff", {"username": "agent2", "password": "x" * 12}, ("username",), NEVER),
    ("staff.password", None, "POST", "/v1/auth/staff", {"username": "nobody", "password": "x"}, ("password",), NEVER),
    ("precheck.kind", "sub1", "POST", "/v1/prechecks", {"kind": "close_line", "msisdn": "13800138000"}, ("kind",),
     lambda v: v in ("close_line", "unsubscribe", "cancel_renewal", "withdraw", "reclaim")),
    ("precheck.msisdn", "sub1", "POST", "/v1/prechecks", {"kind": "close_line", "msisdn": "13800138000"}, ("msisdn",),
     _msisdn_ok),
    ("precheck.subscription_id", "sub1", "POST", "/v1/prechecks",
     {"kind": "unsubscribe", "msisdn": "13800138000", "subscription_id": "S-CRBT"}, ("subscription_id",), NEVER),
    ("precheck.document.type", "agent1", "POST", "/v1/prechecks",
     {"kind": "close_line", "msisdn": "13800138000", "in_person_document": {"type": "cn_ric", "number": PERSON_ID}},
     ("in_person_document", "type"), ANY_VALUE),
    ("precheck.document.number", "agent1", "POST", "/v1/prechecks",
     {"kind": "close_line", "msisdn": "13800138000", "in_person_document": {"type": "cn_ric", "number": PERSON_ID}},
     ("in_person_document", "number"), NEVER),
    ("request.kind", "sub1", "POST", "/v1/requests", {"kind": "cancel_renewal", "msisdn": "13800138000",
                                                       "subscription_id": "S-VIDEO"}, ("kind",), NEVER),
    ("request.msisdn", "sub1", "POST", "/v1/requests", {"kind": "close_line", "msisdn": "13800138000"}, ("msisdn",),
     NEVER),
    ("request.subscription_id", "sub1", "POST", "/v1/requests", {"kind": "cancel_renewal", "msisdn": "13800138000",
                                                                  "subscription_id": "S-VIDEO"}, ("subscription_id",),
     NEVER),
    ("request.reason", "ea1", "POST", "/v1/requests", {"kind": "close_line", "msisdn": "18659101002", "reason": "x"},
     ("reason",), FREE_TEXT),
    ("request.acknowledged_warnings", "sub1", "POST", "/v1/requests",
     {"kind": "close_line", "msisdn": "13800138000", "acknowledged_warnings": ["X"]}, ("acknowledged_warnings", 0), NEVER),
    ("confirm.id_last6", "sub1", "POST", "/v1/requests/{close}/confirm", {"verification": {"id_last6": "000000"}},
     ("verification", "id_last6"), NEVER),
    ("confirm.service_password", "sub1", "POST", "/v1/requests/{close}/confirm",
     {"verification": {"service_password": "000000"}}, ("verification", "service_password"), NEVER),
    ("review.reason", "reviewer", "POST", f"/v1/admin/requests/{MISSING_TRACKING}/review",
     {"approve": False, "reason": "x"}, ("reason",), NEVER),
    ("search.msisdn", "agent1", "POST", "/v1/staff/customers/search", {"msisdn": "13800138000"}, ("msisdn",), _msisdn_ok),
    ("search.document.number", "agent1", "POST", "/v1/staff/customers/search",
     {"id_document": {"type": "cn_ric", "number": PERSON_ID}}, ("id_document", "number"), ANY_VALUE),
    ("id_check.number", "agent2", "POST", "/v1/staff/customers/C002/id-checks", {"type": "cn_ric", "number": "x"},
     ("number",), ANY_VALUE),
    ("batch.msisdns", "ea2", "POST", "/v1/enterprise/batches", {"msisdns": ["18659102000"]}, ("msisdns", 0), _msisdn_ok),
    ("batch.reason", "ea2", "POST", "/v1/enterprise/batches", {"msisdns": ["13700137000"], "reason": "x"}, ("reason",),
     NEVER),
]
PATH_FIELDS = [
    ("path.line", "sub1", "/v1/lines/{}/subscriptions"),
    ("path.request", "sub1", "/v1/requests/{}"),
    ("path.receipt", "sub1", "/v1/requests/{}/receipt"),
    ("path.verify", None, "/v1/receipts/verify/{}"),
    ("path.customer", "agent1", "/v1/staff/customers/{}"),
    ("path.batch", "ea1", "/v1/enterprise/batches/{}"),
    ("query.outbox", None, "/dev/outbox?to={}"),
]


def _params():
    out = [pytest.param("sqlite", id="sqlite")]
    out.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return out


@pytest.fixture(scope="module", params=_params())
def w(request, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile')}/hostile.db" if request.param == "sqlite" else PG_URL
    world = build_world(url, client_rate_limit=100_000)
    body = {"kind": "close_line", "msisdn": "13800138000", "acknowledged_warnings": ["GIFT_BALANCE_FORFEIT"]}
    world.client.post(f"/v1/requests/{world.objects['req_sub1']}/withdraw", headers=world.h("sub1"))
    r = world.client.post("/v1/requests", json=body, headers=world.h("sub1"))
    assert r.status_code == 201, r.text
    world.objects["close"] = r.json()["tracking_no"]
    world.engine_name = request.param
    yield world
    world.c.dispose()


def snapshot(w) -> dict:
    with w.c.engine.connect() as conn:
        return {t: conn.execute(select(func.count()).select_from(orm.metadata.tables[t])).scalar_one()
                for t in TABLES if t in orm.metadata.tables}


def _set(body: dict, path: tuple, value):
    out = copy.deepcopy(body)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def send(w, method: str, url: str, body, actor: str | None):
    """JSON as a client library would write it (ASCII escapes: lone surrogates travel as \\ud800)."""
    headers = {**(w.h(actor) if actor else {}), "Content-Type": "application/json"}
    return w.client.request(method, url, content=json.dumps(body), headers=headers)


def _check_answer(r, label, value) -> None:
    assert r.status_code < 500, (label, repr(value)[:200], r.status_code, r.text[:300])
    if r.status_code >= 400:
        err = r.json()["error"]
        assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"], (label, r.text)


EXAMPLES = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("field", FIELDS, ids=[f[0] for f in FIELDS])
def test_hostile_text_in_every_json_field(w, field):
    label, actor, method, url, body, path, acceptable = field
    url = url.format(close=w.objects["close"])

    @EXAMPLES
    @given(value=hostile)
    def run(value):
        before = snapshot(w)
        r = send(w, method, url, _set(body, path, value), actor)
        _check_answer(r, label, value)
        if r.status_code < 300:
            assert acceptable(value), (label, repr(value)[:200], r.status_code, r.text[:200])
            if label == "request.reason":  # stored exactly as written, then out of the way again
                assert r.status_code == 201 and r.json()["timeline"][0]["reason"] == value
                w.client.post(f"/v1/requests/{r.json()['tracking_no']}/withdraw", headers=w.h(actor))
        else:
            assert snapshot(w) == before, (label, repr(value)[:200], r.status_code)
    run()


@pytest.mark.parametrize("field", PATH_FIELDS, ids=[f[0] for f in PATH_FIELDS])
def test_hostile_text_in_paths_and_queries(w, field):
    label, actor, template = field
    from urllib.parse import quote

    @EXAMPLES
    @given(value=st.one_of(st.text(min_size=1, max_size=60), st.sampled_from(SQL), st.text(min_size=300, max_size=2000)))
    def run(value):
        before = snapshot(w)
        r = w.client.get(template.format(quote(value, safe="")), headers=w.h(actor) if actor else {})
        _check_answer(r, label, value)
        assert snapshot(w) == before
    run()


def test_hostile_headers(w):
    for key in ("\x00", "x" * 201, "🙂", "' OR 1=1 --"):
        r = w.client.post("/v1/requests", json={"kind": "cancel_renewal", "msisdn": "13800138000",
                                                "subscription_id": "S-CRBT"},
                          headers={**w.h("sub1"), "Idempotency-Key": key.encode("utf-8")})
        assert r.status_code < 500, (key, r.text)
    for lang in ("en" * 300, "\x7f", "zh-CN;q=0.9,en;q=0.8", "中文"):
        r = w.client.get("/v1/lines", headers={**w.h("sub1"), "Accept-Language": lang.encode("utf-8")})
        assert r.status_code < 500


def test_malformed_json_and_wrong_types_are_a_clear_422(w):
    for raw in (b"{", b"[]", b"null", b'"x"', b"{\"msisdn\": \"\\ud800\"}", b"\xff\xfe", b'{"msisdn": 1e999}'):
        r = w.client.post("/v1/auth/otp", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 422), (raw, r.status_code, r.text)
        assert "error" in r.json()


IMPORT_FIELDS = [("products", 0, "code"), ("products", 0, "name", "zh"), ("customers", 0, "id"), ("customers", 0, "name"),
                 ("customers", 0, "id_document", "number"), ("lines", 0, "msisdn"), ("lines", 0, "service_password"),
                 ("subscriptions", 0, "id"), ("subscriptions", 0, "period_start")]


def _import_doc() -> dict:
    return {
        "products": [{"code": "VAS-HOSTILE", "kind": "vas", "name": {"zh": "测试", "en": "Test"}, "price": 100,
                      "period": "month", "unsubscribe_effect": "end_of_cycle", "refund": "none"}],
        "customers": [{"id": "C-HOSTILE", "kind": "person", "name": "赵钱",
                       "id_document": {"type": "cn_ric", "number": "11010519491231002X"}}],
        "lines": [{"msisdn": "13600136000", "customer_id": "C-HOSTILE", "status": "active", "service_password": "112233",
                   "cash_balance": 0, "gift_balance": 0, "deposit": 0, "unbilled_usage": 0, "arrears": 0,
                   "primary_msisdn": None, "port_out_pending": False, "contract": None, "bindings": []}],
        "subscriptions": [{"id": "S-HOSTILE", "msisdn": "13600136000", "product": "VAS-HOSTILE",
                           "period_start": "2026-11-01", "period_end": "2026-12-01", "auto_renew": True}],
    }


@pytest.mark.parametrize("path", IMPORT_FIELDS, ids=[".".join(map(str, p)) for p in IMPORT_FIELDS])
def test_hostile_import_records_are_refused_whole(w, path):
    hostile_only = st.one_of(st.sampled_from(["\x00", "a\x00b", "\ud800", "' OR 1=1 --\x00", "x" * 5000]),
                             st.integers(), st.lists(st.integers(), max_size=2), st.none())

    @settings(max_examples=10, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(value=hostile_only)
    def run(value):
        before = snapshot(w)
        r = send(w, "POST", "/v1/admin/import", _set(_import_doc(), path, value), "admin")
        _check_answer(r, ".".join(map(str, path)), value)
        if r.status_code >= 400:
            assert snapshot(w) == before
    run()
