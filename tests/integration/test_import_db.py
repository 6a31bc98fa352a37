"""The importer against real databases: SQLite (a temporary file) and PostgreSQL.

PostgreSQL runs at postgresql+psycopg://postgres@127.0.0.1:5432/test; each test gets a fresh schema
(dropped afterwards), so it never touches other tables in that database. Unreachable: the tests
are skipped, or fail when CI=true.
"""
from __future__ import annotations

import copy
import json
import os
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select, text, update

from canceldesk.adapters import orm
from canceldesk.bootstrap import bootstrap
from canceldesk.config import Settings
from canceldesk.service_layer.import_fixtures import generate_jsonl
from canceldesk.service_layer.importer import (ImportRejected, hash_service_password, import_bytes, import_path,
                                               verify_service_password)

PG_URL = os.environ.get("CANCELDESK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RIC = "11010519491231002X"
USCC = "91350100M000100Y43"
TABLES = {"products": orm.products, "customers": orm.customers, "lines": orm.lines,
          "subscriptions": orm.subscriptions, "enterprise_admins": orm.enterprise_admins}


def document() -> dict:
    return {
        "products": [
            {"code": "PLAN-58", "kind": "plan", "name": {"zh": "58元套餐", "en": "58 plan"},
             "price": 5800, "period": "month", "unsubscribe_effect": "end_of_cycle", "refund": "none"},
            {"code": "MEM-VIDEO", "kind": "membership", "name": {"zh": "视频会员", "en": "Video membership"},
             "price": 1500, "period": "month", "unsubscribe_effect": "end_of_cycle", "refund": "none",
             "partner": "腾讯视频"},
        ],
        "customers": [
            {"id": "C001", "kind": "person", "name": "张三丰",
             "id_document": {"type": "cn_ric", "number": RIC}},
            {"id": "E001", "kind": "enterprise", "name": "某某电销有限公司",
             "id_document": {"type": "cn_uscc", "number": USCC},
             "admins": [{"msisdn": "13800000001", "name": "李四光"}, {"msisdn": "13800000002", "name": "王五常"}]},
        ],
        "lines": [
            {"msisdn": "+86 138 0013 8000", "customer_id": "C001", "status": "active",
             "service_password": "135790", "cash_balance": 5000, "gift_balance": 1000,
             "deposit": 0, "unbilled_usage": 320, "arrears": 0,
             "primary_msisdn": None, "port_out_pending": False,
             "contract": {"ends_on": "2027-06-30", "early_termination": {"fee": 20000}},
             "bindings": [{"kind": "bank", "name": "招商银行"}]},
            {"msisdn": "13800138001", "customer_id": "C001", "status": "suspended", "arrears": 8650,
             "primary_msisdn": "13800138000", "installment_due": 1200},
            {"msisdn": "18659101001", "customer_id": "E001", "status": "active", "service_password": "000123"},
        ],
        "subscriptions": [
            {"id": "S001", "msisdn": "13800138000", "product": "MEM-VIDEO",
             "period_start": "2026-11-10", "period_end": "2026-12-10", "auto_renew": True},
            {"id": "S002", "msisdn": "13800138001", "product": "PLAN-58",
             "period_start": "2026-11-01", "period_end": "2026-12-01", "auto_renew": False,
             "started_on": "2024-03-01"},
        ],
    }


def as_jsonl(doc: dict) -> str:
    out = []
    for section, rtype in (("products", "product"), ("customers", "customer"), ("lines", "line"),
                           ("subscriptions", "subscription")):
        out += [json.dumps({"type": rtype, **r}, ensure_ascii=False) for r in doc.get(section, [])]
    return "\n".join(out) + "\n"


def _postgres_or_skip() -> None:
    import psycopg
    try:
        psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable at 127.0.0.1:5432: {exc}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def c(request, tmp_path):
    if request.param == "sqlite":
        url, cleanup = f"sqlite:///{tmp_path / 'import.db'}", None
    else:
        _postgres_or_skip()
        import psycopg
        schema = f"import_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"

        def cleanup():
            with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    container = bootstrap(Settings(env="test", database_url=url, queue_url="immediate"), create_schema=True,
                          with_queue=False)  # the importer needs no queue
    yield container
    container.dispose()
    if cleanup:
        cleanup()


def counts(c) -> dict[str, int]:
    with c.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar_one() for name, t in TABLES.items()}


def write(tmp_path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_valid_document_writes_everything(c, tmp_path):
    result = import_path(c, write(tmp_path, "feed.json", json.dumps(document(), ensure_ascii=False, indent=2)))
    assert {k: v for k, v in result.items() if k != "seconds"} == {
        "products": {"created": 2, "updated": 0}, "customers": {"created": 2, "updated": 0},
        "lines": {"created": 3, "updated": 0}, "subscriptions": {"created": 2, "updated": 0}}
    assert isinstance(result["seconds"], float)
    assert counts(c) == {"products": 2, "customers": 2, "lines": 3, "subscriptions": 2, "enterprise_admins": 2}
    with c.uow() as uow:
        line = uow.repo.line("13800138000")
        assert (line.customer_id, line.cash_balance, line.gift_balance, line.unbilled_usage) == ("C001", 5000, 1000, 320)
        assert (str(line.contract_ends_on), line.contract_early_termination, line.contract_fee) == ("2027-06-30", "fee", 20000)
        assert line.bindings == [{"kind": "bank", "name": "招商银行"}] and line.currency == "CNY"
        second = uow.repo.line("13800138001")
        assert (second.primary_msisdn, second.status, second.arrears, second.installment_due) == \
            ("13800138000", "suspended", 8650, 1200)
        assert second.service_password_hash is None and second.bindings == []
        customer = uow.repo.customer("C001")
        assert (customer.name, customer.id_doc_number, customer.id_doc_type) == ("张三丰", RIC, "cn_ric")
        assert customer.id_doc_digest == c.keyring.digest(RIC)
        assert [x.id for x in uow.repo.customers_by_digest(c.keyring.digest(RIC))] == ["C001"]
        assert sorted(uow.repo.enterprises_administered_by("13800000002")) == ["E001"]
        sub = uow.repo.subscription("S002")
        assert (sub.status, sub.auto_renew, str(sub.started_on)) == ("active", False, "2024-03-01")
        assert uow.repo.product("MEM-VIDEO").partner == "腾讯视频"


def test_personal_data_is_not_stored_in_clear(c):
    import_bytes(c, json.dumps(document(), ensure_ascii=False).encode(), "application/json")
    with c.engine.connect() as conn:
        raw = [tuple(r) for r in conn.execute(text("SELECT name, id_doc_number, id_doc_digest FROM customers"))]
        raw += [tuple(r) for r in conn.execute(text("SELECT name, msisdn, msisdn FROM enterprise_admins"))]
        hashes = [r[0] for r in conn.execute(text("SELECT service_password_hash FROM lines"))]
    blob = json.dumps(raw, ensure_ascii=False)
    for secret in ("张三丰", "某某电销", "李四光", "王五常", RIC, USCC, "1949"):
        assert secret not in blob
    assert all(r[0].startswith("v1:") for r in raw)
    hashes = [h for h in hashes if h]
    assert len(hashes) == 2 and not any("135790" in h or "000123" in h for h in hashes)
    with c.uow() as uow:
        stored = uow.repo.line("13800138000").service_password_hash
    assert verify_service_password(c, stored, "135790")
    assert not verify_service_password(c, stored, "135791")
    assert not verify_service_password(c, None, "135790")


def test_rejected_document_writes_nothing(c, tmp_path):
    doc = document()
    doc["lines"][1]["cash_balance"] = 12.5
    doc["subscriptions"][1]["product"] = "NOPE"
    with pytest.raises(ImportRejected) as info:
        import_path(c, write(tmp_path, "feed.json", json.dumps(doc)))
    err = info.value
    assert err.code == "IMPORT_REJECTED" and err.status == 422
    assert err.details["error_count"] == 2
    assert [e["path"] for e in err.details["errors"]] == ["lines[1].cash_balance", "subscriptions[1].product"]
    assert counts(c) == dict.fromkeys(TABLES, 0)


def test_invalid_json_is_rejected_with_a_message(c, tmp_path):
    with pytest.raises(ImportRejected) as info:
        import_path(c, write(tmp_path, "feed.json", '{"products": [}'))
    assert info.value.details["errors"][0]["path"] == "" and "not valid JSON" in info.value.details["errors"][0]["message"]


def test_reimport_is_idempotent_and_counts_updates(c, tmp_path):
    path = write(tmp_path, "feed.json", json.dumps(document(), ensure_ascii=False))
    import_path(c, path)
    with c.uow() as uow:
        first_hash = uow.repo.line("13800138000").service_password_hash
        version = uow.repo.line("13800138000").version
    before = counts(c)
    result = import_path(c, path)
    assert {k: v for k, v in result.items() if k != "seconds"} == {
        "products": {"created": 0, "updated": 2}, "customers": {"created": 0, "updated": 2},
        "lines": {"created": 0, "updated": 3}, "subscriptions": {"created": 0, "updated": 2}}
    assert counts(c) == before
    with c.uow() as uow:
        line = uow.repo.line("13800138000")
        assert line.service_password_hash == first_hash  # still matches: not re-hashed
        assert line.version == version + 1               # the ORM's optimistic lock sees the change


def test_reimport_updates_fields_password_and_replaces_admins(c):
    import_bytes(c, json.dumps(document()).encode())
    doc = document()
    doc["lines"][0].update(service_password="246802", cash_balance=1, bindings=None, contract=None)
    doc["customers"][0]["name"] = "张三"
    doc["customers"][1]["admins"] = [{"msisdn": "13900000009", "name": "赵六"}]
    doc["products"][0]["price"] = 6800
    doc["subscriptions"][0].update(period_start="2026-12-10", period_end="2027-01-10")
    import_bytes(c, json.dumps(doc).encode())
    with c.uow() as uow:
        line = uow.repo.line("13800138000")
        assert (line.cash_balance, line.bindings, line.contract_ends_on, line.contract_early_termination) == (1, [], None, None)
        assert verify_service_password(c, line.service_password_hash, "246802")
        assert not verify_service_password(c, line.service_password_hash, "135790")
        assert uow.repo.customer("C001").name == "张三"
        assert uow.repo.enterprises_administered_by("13800000001") == []
        assert uow.repo.enterprises_administered_by("13900000009") == ["E001"]
        assert uow.repo.product("PLAN-58").price == 6800
        assert str(uow.repo.subscription("S001").period_end) == "2027-01-10"
    assert counts(c)["enterprise_admins"] == 1


def test_reimport_keeps_what_canceldesk_owns(c):
    """A line canceldesk closed stays closed; an ended subscription stays ended."""
    data = json.dumps(document()).encode()
    import_bytes(c, data)
    with c.engine.begin() as conn:
        conn.execute(update(orm.lines).where(orm.lines.c.msisdn == "13800138001").values(status="frozen"))
        conn.execute(update(orm.lines).where(orm.lines.c.msisdn == "18659101001").values(
            status="recyclable", former_customer_id="E001"))
        conn.execute(update(orm.subscriptions).where(orm.subscriptions.c.id == "S001").values(status="ended"))
    import_bytes(c, data)
    with c.uow() as uow:
        assert uow.repo.line("13800138001").status == "frozen"
        assert uow.repo.line("18659101001").status == "recyclable"  # the feed still names the former owner
        assert uow.repo.line("13800138000").status == "active"
        assert uow.repo.subscription("S001").status == "ended"
    reissued = document()
    reissued["lines"][2]["customer_id"] = "C001"  # the operator gave the recycled number to someone else
    import_bytes(c, json.dumps(reissued).encode())
    with c.uow() as uow:
        assert (uow.repo.line("18659101001").status, uow.repo.line("18659101001").customer_id) == ("active", "C001")


def test_reimport_never_switches_a_stopped_renewal_back_on(c):
    """The subscriber cancelled the renewal here; yesterday's CRM feed still says auto_renew: true."""
    from datetime import datetime, timezone
    data = json.dumps(document()).encode()
    import_bytes(c, data)
    with c.engine.begin() as conn:  # what a completed cancel_renewal leaves behind
        conn.execute(update(orm.subscriptions).where(orm.subscriptions.c.id == "S001").values(
            auto_renew=False, access_ends_at=datetime(2026, 12, 9, 16, tzinfo=timezone.utc)))
    import_bytes(c, data)
    with c.uow() as uow:
        assert uow.repo.subscription("S001").auto_renew is False
    # A subscription nobody stopped here follows the feed both ways.
    on = document()
    on["subscriptions"][1]["auto_renew"] = True
    import_bytes(c, json.dumps(on).encode())
    with c.uow() as uow:
        assert uow.repo.subscription("S002").auto_renew is True
    import_bytes(c, data)  # S002 back to auto_renew: false in the feed
    with c.uow() as uow:
        assert uow.repo.subscription("S002").auto_renew is False
        assert uow.repo.subscription("S001").auto_renew is False


def test_database_refusal_writes_nothing_and_leaks_no_personal_data(c, monkeypatch):
    """A reference that vanished between validation and writing: the foreign key refuses the rows."""
    from canceldesk.service_layer import importer
    from canceldesk.service_layer.errors import Conflict
    monkeypatch.setattr(importer, "_existing_keys", lambda c, rtype, keys: set(keys))  # "they all exist"
    doc = document()
    doc["lines"][2]["customer_id"] = "GHOST"
    with pytest.raises(Conflict) as info:
        import_bytes(c, json.dumps(doc).encode())
    assert info.value.code == "IMPORT_FAILED"
    for secret in ("张三丰", RIC, "135790", "000123", "svc1$"):
        assert secret not in str(info.value) and secret not in repr(info.value.details)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert counts(c) == dict.fromkeys(TABLES, 0)


def test_jsonl_is_equivalent(c, tmp_path):
    result = import_path(c, write(tmp_path, "feed.jsonl", as_jsonl(document())))
    assert result["lines"] == {"created": 3, "updated": 0}
    assert counts(c) == {"products": 2, "customers": 2, "lines": 3, "subscriptions": 2, "enterprise_admins": 2}
    # the same feed as a request body, then as a document: all updates
    again = import_bytes(c, as_jsonl(document()).encode(), "application/x-ndjson; charset=utf-8")
    assert again["customers"] == {"created": 0, "updated": 2}
    assert import_bytes(c, json.dumps(document()).encode(), "application/json")["lines"] == {"created": 0, "updated": 3}
    with c.uow() as uow:
        assert uow.repo.customer("E001").id_doc_number == USCC
        assert verify_service_password(c, uow.repo.line("18659101001").service_password_hash, "000123")


def test_jsonl_detected_without_extension(c, tmp_path):
    result = import_path(c, write(tmp_path, "feed.txt", "\n" + as_jsonl(document())))
    assert result["subscriptions"] == {"created": 2, "updated": 0}
    assert import_bytes(c, as_jsonl(document()).encode())["subscriptions"] == {"created": 0, "updated": 2}


def test_jsonl_rejected_reports_line_paths_and_writes_nothing(c, tmp_path):
    feed = as_jsonl(document()).splitlines()
    feed[4] = feed[4].replace('"active"', '"closed"')              # line 5 is the first line record
    feed.append(json.dumps({"type": "line", "msisdn": "13800138000", "customer_id": "C001", "status": "active"}))
    with pytest.raises(ImportRejected) as info:
        import_path(c, write(tmp_path, "feed.ndjson", "\n".join(feed) + "\n"))
    assert [e["path"] for e in info.value.details["errors"]] == ["line 5.status", "line 10.msisdn"]
    assert counts(c) == dict.fromkeys(TABLES, 0)


def test_jsonl_out_of_order_is_written_in_dependency_order(c, tmp_path):
    lines = as_jsonl(document()).splitlines()
    result = import_path(c, write(tmp_path, "feed.jsonl", "\n".join(reversed(lines)) + "\n"))
    assert {k: v["created"] for k, v in result.items() if k != "seconds"} == \
        {"products": 2, "customers": 2, "lines": 3, "subscriptions": 2}


def test_references_to_records_already_in_the_database(c):
    import_bytes(c, json.dumps(document()).encode())
    later = {"subscriptions": [{"id": "S003", "msisdn": "18659101001", "product": "PLAN-58",
                                "period_start": "2026-11-01", "period_end": "2026-12-01", "auto_renew": True}],
             "lines": [{"msisdn": "18659101002", "customer_id": "E001", "status": "inactive",
                        "primary_msisdn": "18659101001"}]}
    assert import_bytes(c, json.dumps(later).encode())["subscriptions"] == {"created": 1, "updated": 0}
    missing = copy.deepcopy(later)
    missing["subscriptions"][0].update(id="S004", msisdn="13999999999")
    with pytest.raises(ImportRejected) as info:
        import_bytes(c, json.dumps(missing).encode())
    assert [e["path"] for e in info.value.details["errors"]] == ["subscriptions[0].msisdn"]


def test_service_passwords_from_auth_hash_still_verify(c):
    from canceldesk.service_layer.auth import hash_password
    assert verify_service_password(c, hash_password("135790"), "135790")
    ours = hash_service_password(c, "135790")
    assert ours.startswith("svc1$") and verify_service_password(c, ours, "135790")
    assert not verify_service_password(c, ours.replace(ours.split("$")[1], "deadbeef", 1), "135790")


def test_generated_feed_imports_cleanly(c, tmp_path):
    path = str(tmp_path / "feed.jsonl")
    made = generate_jsonl(path, 300, seed=3, today=date(2026, 11, 21))
    result = import_path(c, path)
    assert result["lines"]["created"] == made["line"] == 300
    assert result["subscriptions"]["created"] == made["subscription"] == 300
    assert result["customers"]["created"] == made["customer"]
    assert generate_jsonl(str(tmp_path / "again.jsonl"), 300, seed=3, today=date(2026, 11, 21)) == made
    assert (tmp_path / "again.jsonl").read_bytes() == (tmp_path / "feed.jsonl").read_bytes()


def test_service_passwords_survive_secret_rotation():
    from types import SimpleNamespace

    from canceldesk.adapters.crypto import KeyRing

    def container(settings):  # what the service passwords use of a container: its key ring
        return SimpleNamespace(settings=settings, keyring=KeyRing.from_settings(settings))
    old = container(Settings(env="test", secret_key="a" * 40))
    stored = hash_service_password(old, "135790")
    rotated = container(Settings(env="test", secret_key="b" * 40, old_secret_keys="x:" + "a" * 40))
    assert verify_service_password(rotated, stored, "135790")
    assert not verify_service_password(rotated, stored, "135791")
    forgotten = container(Settings(env="test", secret_key="b" * 40))
    assert not verify_service_password(forgotten, stored, "135790")  # the pepper is gone with the secret


def test_a_status_the_feed_changes_is_appended_to_the_line_history(c):
    """The operator's feed is authoritative for a line's status; what it changes is recorded like any change
    (and what canceldesk keeps — a frozen number — writes nothing)."""
    data = json.dumps(document()).encode()
    import_bytes(c, data)
    with c.engine.begin() as conn:
        conn.execute(update(orm.lines).where(orm.lines.c.msisdn == "13800138001").values(status="frozen"))
        conn.execute(update(orm.lines).where(orm.lines.c.msisdn == "18659101001").values(
            status="recyclable", former_customer_id="E001"))
    import_bytes(c, data)
    reissued = document()
    reissued["lines"][2]["customer_id"] = "C001"
    reissued["lines"][0]["status"] = "suspended"
    import_bytes(c, json.dumps(reissued).encode())
    with c.uow() as uow:
        rows = {n: [(e.from_status, e.to_status, e.actor, e.channel, e.reason) for e, _no, _owner in uow.repo.line_history(n)]
                for n in ("13800138000", "13800138001", "18659101001")}
    assert rows == {"13800138000": [("active", "suspended", "system:import", "import", "imported")],
                    "13800138001": [],
                    "18659101001": [("recyclable", "active", "system:import", "import", "imported")]}
