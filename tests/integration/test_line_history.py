"""A line keeps an append-only history of its status changes: written by the transitions (the engine's
closure and reclaim, the freeze window's end), shown at the counter, and readable through the API by
the line's owner and staff — another customer gets exactly the answer a missing line gets."""
from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from canceldesk.adapters import orm
from canceldesk.domain.model import Line
from canceldesk.domain.transitions import IllegalTransition
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import numbers
from secworld import MISSING_MSISDN, STAFF_PASSWORD, build_world
from support import PERSON_ID
from web_support import staff_login

LINE = "13800138000"


@pytest.fixture()
def w(tmp_path):
    world = build_world(f"sqlite:///{tmp_path}/history.db")
    yield world
    world.c.dispose()


def _close(w) -> str:
    client, h = w.client, w.h("sub1")
    assert client.post(f"/v1/requests/{w.objects['req_sub1']}/withdraw", headers=h).status_code == 200
    pre = client.post("/v1/prechecks", json={"kind": "close_line", "msisdn": LINE}, headers=h).json()
    body = {"kind": "close_line", "msisdn": LINE, "acknowledged_warnings": [x["code"] for x in pre["warnings"]]}
    r = client.post("/v1/requests", json=body, headers=h)
    assert r.status_code == 201, r.text
    no = r.json()["tracking_no"]
    r = client.post(f"/v1/requests/{no}/confirm", json={"verification": {"id_last6": PERSON_ID[-6:]}}, headers=h)
    assert r.json()["status"] == "completed", r.text
    return no


def history_rows(w) -> int:
    with w.c.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(orm.line_history)).scalar_one()


def test_closing_then_reclaiming_appends_to_the_history_the_owner_and_staff_read(w):
    client = w.client
    assert client.get(f"/v1/lines/{LINE}/history", headers=w.h("sub1")).json() == {"msisdn": LINE, "history": []}
    no = _close(w)
    closed_at = w.clock.now.isoformat()
    with w.c.uow() as uow:
        request_id = uow.repo.request(no).id
    mine = client.get(f"/v1/lines/{LINE}/history", headers=w.h("sub1"))
    assert mine.status_code == 200
    assert mine.json()["history"] == [{"at": closed_at, "from": "active", "to": "frozen", "by": "system",
                                       "channel": "worker", "request_id": request_id, "reason": "closed",
                                       "tracking_no": no}]
    staff = client.get(f"/v1/lines/{LINE}/history", headers=w.h("agent2")).json()["history"]
    assert [(e["from"], e["to"], e["tracking_no"]) for e in staff] == [("active", "frozen", no)]

    w.clock.advance(minutes=30)
    r = client.post("/v1/requests", json={"kind": "reclaim", "msisdn": LINE}, headers=w.h("sub1"))
    assert r.status_code == 201, r.text
    back = r.json()["tracking_no"]
    r = client.post(f"/v1/requests/{back}/confirm", json={"verification": {"id_last6": PERSON_ID[-6:]}},
                    headers=w.h("sub1"))
    assert r.json()["status"] == "completed", r.text
    got = client.get(f"/v1/lines/{LINE}/history", headers=w.h("sub1")).json()["history"]
    assert [(e["from"], e["to"], e["reason"], e["tracking_no"]) for e in got] == [
        ("active", "frozen", "closed", no), ("frozen", "active", "reclaimed", back)]
    assert got[1]["at"] == w.clock.now.isoformat()


def test_another_customer_is_refused_exactly_like_a_missing_line(w):
    _close(w)
    for actor, theirs in (("sub2", LINE), ("ea1", LINE), ("sub1", "18659101000")):
        r1 = w.client.get(f"/v1/lines/{theirs}/history", headers=w.h(actor))
        r2 = w.client.get(f"/v1/lines/{MISSING_MSISDN}/history", headers=w.h(actor))
        assert (r1.status_code, r1.json()) == (r2.status_code, r2.json()) == (
            404, {"error": {"code": "NOT_FOUND", "message": "no such line", "details": None}})
        assert "frozen" not in r1.text


def test_the_counter_shows_the_history_where_it_shows_the_line(w):
    no = _close(w)
    staff = TestClient(create_app(w.c))
    staff_login(staff, "agent1", STAFF_PASSWORD)
    page = staff.get(f"/counter/customers/C001/lines/{LINE}")
    assert page.status_code == 200
    section = page.text.split('id="line-history"', 1)[1].split("</section>", 1)[0]
    assert "状态变更记录" in section and f'href="/counter/requests/{no}"' in section
    assert "暂无状态变更记录" not in section


def test_the_end_of_the_freeze_window_is_recorded_set_based(w):
    with w.c.engine.begin() as conn:
        conn.execute(update(orm.lines).where(orm.lines.c.msisdn == "13900139000").values(
            status="frozen", closed_at=w.clock.now - timedelta(days=91), frozen_until=w.clock.now - timedelta(days=1),
            former_customer_id="C002"))
    before = history_rows(w)
    assert numbers.expire_freezes(w.c, w.clock.now)["recyclable"] == 1
    assert history_rows(w) == before + 1
    got = w.client.get("/v1/lines/13900139000/history", headers=w.h("admin")).json()["history"]
    assert [(e["from"], e["to"], e["by"], e["channel"], e["reason"]) for e in got] == [
        ("frozen", "recyclable", "system", "scheduler", "freeze window over")]


def test_a_status_assigned_directly_is_checked_and_recorded_or_refused(w):
    with w.c.uow() as uow:
        line = uow.repo.line("13900139000")
        line.status = "suspended"  # not through a named transition: still checked and recorded
        uow.commit()
    with w.c.uow() as uow:
        (entry, _no, _owner), = uow.repo.line_history("13900139000")
        assert (entry.from_status, entry.to_status, entry.actor, entry.channel) == ("active", "suspended", "system", "system")
    with w.c.uow() as uow:
        uow.session.execute(update(orm.lines).where(orm.lines.c.msisdn == "13900139000").values(status="recyclable"))
        uow.commit()
    before = history_rows(w)
    with w.c.uow() as uow:
        line: Line = uow.repo.line("13900139000")
        line.status = "active"  # recyclable → active is not in the table
        with pytest.raises(IllegalTransition):
            uow.commit()
    assert history_rows(w) == before
    with w.c.uow() as uow:
        assert uow.repo.line("13900139000").status == "recyclable"
