"""Requests and lines written with Core (adapters/request_rows.py) read back as the ORM would have written
them, and a line changed by another transaction meanwhile is "not now" (the version check), on PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from canceldesk.adapters import orm
from canceldesk.domain.errors import IntegrityConflict, StoreBusy
from canceldesk.domain.lifecycle import Request, Status
from canceldesk.service_layer import audit
from support import PG_URL, make_container, seed

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=timezone.utc)
MSISDN = "18659101000"


@pytest.fixture()
def c():
    c = make_container(PG_URL)
    seed(c, date(2026, 12, 3))
    yield c
    c.dispose()


def _request(n: int) -> Request:
    req = Request(id=f"00000000-0000-0000-0000-{n:012d}", tracking_no=f"CDT{n:08d}", kind="close_line",
                  msisdn=f"1865910100{n}" if n < 10 else f"186592{n:05d}", customer_id="E001", channel="partner", requested_by="pk:test",
                  created_at=NOW, idempotency_key=f"k{n}", batch_id=None)
    req.start(NOW, "pk:test", "partner")
    req.transition(Status.CHECKED, NOW, "system", "partner", "pre-checks passed")
    req.transition(Status.AWAITING_CONFIRMATION, NOW, "system", "partner", "impact shown")
    req.transition(Status.EXECUTING, NOW, "pk:test", "partner", "confirmed")
    return req


def test_new_requests_read_back_with_their_timelines_and_audit_rows(c):
    reqs = [_request(i) for i in range(3)]
    with c.uow() as uow:
        uow.repo.insert_requests(reqs)
        uow.commit()
    with c.uow() as uow:
        back = uow.repo.request_by_id(reqs[1].id)
        assert (back.status, back.open_target, back.msisdn, back.impact) == ("executing", "line:18659101001", reqs[1].msisdn, {})
        assert [e.to_status for e in back.timeline] == ["submitted", "checked", "awaiting_confirmation", "executing"]
        rows = list(uow.session.execute(select(orm.audit_log.c.subject).where(orm.audit_log.c.event == "request_transition")))
    assert len(rows) == 12 and {r.subject for r in rows} == {r.tracking_no for r in reqs}
    assert audit.verify_chain(c) == []


def test_a_second_open_request_for_a_line_is_a_conflict_and_nothing_is_written(c):
    with c.uow() as uow:
        uow.repo.insert_requests([_request(0)])
        uow.commit()
    twin = _request(0)
    twin.id, twin.tracking_no, twin.idempotency_key = "00000000-0000-0000-0000-999999999999", "CDTTWIN", "twin"
    with pytest.raises(IntegrityConflict) as refused:
        with c.uow() as uow:
            uow.repo.insert_requests([twin])
    assert refused.value.key is None  # a race for the line: the caller's conflict
    with c.uow() as uow:
        assert uow.repo.request_by_id(twin.id) is None


def test_a_tracking_number_drawn_twice_is_named_so_the_caller_draws_again(c):
    with c.uow() as uow:
        uow.repo.insert_requests([_request(0)])
        uow.commit()
    other = _request(1)
    other.tracking_no = _request(0).tracking_no
    with pytest.raises(IntegrityConflict) as refused:  # COPY (a chunk) and INSERT (one request) alike
        with c.uow() as uow:
            uow.repo.insert_requests([other] + [_request(i) for i in range(2, 40)])
    assert refused.value.key == "tracking_no" and "CDT" not in str(refused.value)  # never the row's values


def test_the_groups_lines_are_written_with_their_history_and_version(c):
    with c.uow() as uow:
        line = uow.runs.lines_of_many({MSISDN})[MSISDN]
        line.cash_balance = 0
        line.close(NOW, 90, "system", "worker", None)
        uow.runs.commit()
    with c.uow() as uow:
        back = uow.repo.line(MSISDN)
        assert (back.status, back.cash_balance, back.version, back.former_customer_id) == ("frozen", 0, 2, "E001")
        assert [(e.from_status, e.to_status) for e, *_ in uow.repo.line_history(MSISDN)] == [("active", "frozen")]


def test_a_line_changed_meanwhile_is_not_now_and_nothing_is_written(c):
    with c.uow() as uow:
        line = uow.runs.lines_of_many({MSISDN})[MSISDN]
        with c.uow() as other:  # another transaction changes the line first (the ORM bumps its version)
            other.repo.line(MSISDN).cash_balance = 7
            other.commit()
        line.close(NOW, 90, "system", "worker", None)
        with pytest.raises(StoreBusy):
            uow.runs.commit()
    with c.uow() as uow:
        back = uow.repo.line(MSISDN)
        assert (back.status, back.cash_balance, back.version) == ("active", 7, 2)
        assert uow.repo.line_history(MSISDN) == []
