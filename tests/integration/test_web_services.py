"""The web's use cases against both databases: a batch with its derived outcome and CSV,
complaints reaching staff, and the dashboard's reports (grouping, days in the pack's time zone)."""
from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from sqlalchemy import text

from canceldesk.demo.data import build_demo_document
from canceldesk.demo.load import STAFF
from canceldesk.service_layer import (auth, batch_export, batches, complaints, importer, intake, reports, requests,
                                      selfservice)
from canceldesk.service_layer.principal import Principal
from support import PG_URL, Clock, make_container, noon

TODAY = date(2026, 11, 12)
ENTERPRISE = Principal(kind="staff", id="ea1", role="enterprise_admin", enterprise_id="E001", login_msisdn="13905912876")
ADMIN = Principal(kind="staff", id="admin", role="admin")
REVIEWER = Principal(kind="staff", id="reviewer", role="reviewer")
ZHANG = Principal(kind="subscriber", id="C001", login_msisdn="13800138000")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def c(request, tmp_path):
    clock = Clock(noon(TODAY))
    url = f"sqlite:///{tmp_path}/svc.db" if request.param == "sqlite" else PG_URL
    container = make_container(url, clock=clock, fleet_step_up_over=100)  # the fleet's 2nd factor: test_security_simswap
    importer.import_bytes(container, json.dumps(build_demo_document(TODAY), ensure_ascii=False).encode(), "application/json")
    for s in STAFF:
        auth.create_staff_user(container, s["username"], s["password"], s["role"], s["name"], s["store"])
    container.test_clock = clock
    yield container
    container.dispose()


def test_batch_outcome_and_csv(c):
    fleet = batches.fleet_numbers(c, ENTERPRISE)
    assert len(fleet) == 50 and batches.fleet(c, ENTERPRISE, page=2, size=20)["lines"][0]["msisdn"] == fleet[20]
    b = batches.create(c, ENTERPRISE, fleet)
    batches.run_prechecks(c, ENTERPRISE, b["id"])
    assert batches.status(c, ENTERPRISE, b["id"])["blocked"] == 3
    batches.submit(c, ENTERPRISE, b["id"])
    batches.run_submit(c, ENTERPRISE, b["id"])
    st = batches.status(c, ENTERPRISE, b["id"])
    assert (st["outcome"], st["completed"], st["not_completed"]) == ("partial", 47, 3)
    rows = list(csv.DictReader(io.StringIO(batch_export.results_csv(c, ENTERPRISE, b["id"]))))
    assert [r["reason_codes"] for r in rows if r["result"] == "rejected"] == ["ARREARS", "PORT_OUT_PENDING", "CONTRACT_LOCK"]
    with c.uow() as uow:
        assert {r.batch_id for r in uow.repo.requests_of("E001", limit=100)} == {b["id"]}


def test_complaint_on_a_request_goes_to_staff_and_back(c):
    req = selfservice.end_in_one_step(c, ZHANG, requests.NewRequest(kind="cancel_renewal", msisdn="13800138000",
                                                                    subscription_id="S-13800138000-MEM-VIDEO"))
    filed = complaints.file(c, ZHANG, req.tracking_no, "complaint", "  扣费了两次  ")
    assert filed.text == "扣费了两次"
    queue = complaints.open_queue(c, REVIEWER)
    assert [(q.reference, q.tracking_no) for q in queue] == [(filed.reference, req.tracking_no)]
    complaints.resolve(c, REVIEWER, filed.reference, "已核实，仅扣费一次。")
    assert complaints.open_queue(c, REVIEWER) == []
    mine = complaints.for_request(c, ZHANG, req.tracking_no)
    assert mine[0].status == "resolved" and mine[0].resolution == "已核实，仅扣费一次。"
    with pytest.raises(Exception):
        complaints.for_request(c, Principal(kind="subscriber", id="C002"), req.tracking_no)


def test_reports(c):
    selfservice.end_in_one_step(c, ZHANG, requests.NewRequest(kind="unsubscribe", msisdn="13800138000",
                                                              subscription_id="S-13800138000-VAS-CRBT",
                                                              reason="too_expensive"))
    c.test_clock.advance(days=1)
    arrears = Principal(kind="subscriber", id="C002")
    requests.create_request(c, arrears, requests.NewRequest(kind="close_line", msisdn="13971208650"))
    v = reports.volumes(c, ADMIN, days=7)
    assert {k["kind"]: k["count"] for k in v["by_kind"]}["close_line"] == 1 and v["total"] == 2
    assert [d["count"] for d in v["by_day"]][-2:] == [1, 1] and v["by_day"][-1]["day"] == "2026-11-13"
    t = {r["kind"]: r for r in reports.completion_times(c, ADMIN, days=7)}
    assert t["unsubscribe"]["count"] == 1 and t["unsubscribe"]["p50_minutes"] == 0.0
    why = reports.top_reasons(c, ADMIN, days=7)
    assert why["reasons"] == [{"reason": "too_expensive", "count": 1}]
    assert why["reject_codes"] == [{"code": "ARREARS", "count": 1}]
    assert reports.deadline_breaches(c, ADMIN, days=7)["count"] == 0
    rv = reports.reminders_vs_renewals(c, ADMIN, days=7)
    assert rv["reminders_sent"] == 0 and len(rv["by_day"]) == 7
    header, rows = reports.table(c, ADMIN, "volumes", 7)
    assert header == ["dimension", "value", "requests"] and ["channel", "app", 2] in rows
    with pytest.raises(Exception):
        reports.volumes(c, ENTERPRISE, days=7)



def test_a_chunk_of_items_is_created_and_confirmed_in_a_few_statements_with_the_portals_rules(c):
    from sqlalchemy import event, text

    from canceldesk.service_layer import intake
    b = batches.create(c, ENTERPRISE, batches.fleet_numbers(c, ENTERPRISE))
    with c.uow() as uow:
        items = uow.session.execute(text("SELECT id, msisdn FROM batch_items WHERE batch_id = :b ORDER BY position"),
                                    {"b": b["id"]}).all()
    cmds = [(item_id, requests.NewRequest(kind="close_line", msisdn=m, idempotency_key=f"batch:{b['id']}:{m}",
                                          batch_id=b["id"])) for item_id, m in items]
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)
    c.enqueue_delivery = lambda: None  # the notices are counted as written, not as sent
    event.listen(c.engine, "before_cursor_execute", count)
    try:
        executing = intake.submit_many(c, ENTERPRISE, cmds)
    finally:
        event.remove(c.engine, "before_cursor_execute", count)
    assert len(executing) == 47
    assert len(statements) <= 250, len(statements)  # 50 requests: not 41 statements each (SQLite: one per timeline row)
    with c.uow() as uow:
        reqs = uow.repo.requests_of("E001", limit=100)
        one = next(r for r in reqs if r.status == "executing")
        assert [str(e.to_status) for e in one.timeline] == ["submitted", "checked", "awaiting_confirmation", "executing"]
        assert one.channel == "enterprise"
        assert sorted(r.reject_codes[0] for r in reqs if r.status == "rejected") == \
            sorted(["ARREARS", "PORT_OUT_PENDING", "CONTRACT_LOCK"])
    # the same chunk again (a resumed task): the same requests, nothing new
    assert intake.submit_many(c, ENTERPRISE, cmds) == []
    # a line of another customer: the portal's 404, recorded on the item
    assert intake.submit_many(c, ENTERPRISE, [(items[1][0], requests.NewRequest(
        kind="close_line", msisdn="13800138000", batch_id=b["id"]))]) == []
    with c.uow() as uow:
        err = uow.session.execute(text("SELECT error_code, error_message FROM batch_items WHERE id = :i"),
                                  {"i": items[1][0]}).one()
    assert tuple(err) == ("NOT_FOUND", "no such line")


def _draws(taken: str):
    """new_tracking_no that first draws `taken` (another request's number), then fresh ones."""
    from canceldesk.service_layer import request_forms
    first = [taken]
    return lambda now: first.pop() if first else request_forms.new_tracking_no(now)


def test_a_tracking_number_drawn_twice_is_drawn_again_not_refused(c, monkeypatch):
    # 32 random bits a day: at 100,000 requests in a day, about one number is drawn twice. Before,
    # the subscriber got "another open request None already covers this" and a fleet's chunk of 500
    # fell back to the one-by-one path (an order's intake slowed to ~50 items/s for minutes).
    first, _ = requests.create_request(c, ZHANG, requests.NewRequest(
        kind="unsubscribe", msisdn="13800138000", subscription_id="S-13800138000-VAS-CRBT"))
    taken = first.tracking_no
    b = batches.create(c, ENTERPRISE, batches.fleet_numbers(c, ENTERPRISE))
    with c.uow() as uow:
        items = [tuple(r) for r in uow.session.execute(text(
            "SELECT id, msisdn FROM batch_items WHERE batch_id = :b ORDER BY position"), {"b": b["id"]})]
    monkeypatch.setattr(requests, "new_tracking_no", _draws(taken))
    cmds = [(item_id, requests.NewRequest(kind="close_line", msisdn=m, idempotency_key=f"batch:{b['id']}:{m}",
                                          batch_id=b["id"])) for item_id, m in items]
    executing = intake.submit_many(c, ENTERPRISE, cmds)
    assert executing is not None and len(executing) == 47  # the chunk stayed set-based
    with c.uow() as uow:
        made = uow.repo.requests_of("E001", limit=100)
    assert len(made) == 50 and taken not in {r.tracking_no for r in made}

    monkeypatch.setattr(requests, "new_tracking_no", _draws(taken))
    req, created = requests.create_request(c, ZHANG, requests.NewRequest(
        kind="cancel_renewal", msisdn="13800138000", subscription_id="S-13800138000-MEM-VIDEO"))
    assert created and req.status == "awaiting_confirmation" and req.tracking_no != taken
