"""Fleet closure by CSV upload in the enterprise console: rows validated with errors listed by row,
nothing started until clean, results paged, a Chinese CSV with local times and yuan, resumable."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from canceldesk.adapters import orm
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import batches, fleet_upload
from web_support import csrf_of, demo_container, page_login

from .test_web_enterprise_api import ADMIN, BLOCKED, FLEET, OTHER_ADMIN, _other_company


class MovableClock:
    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture()
def world(tmp_path):
    clock = MovableClock()
    c = demo_container(tmp_path / "up.db", clock=clock, fleet_step_up_over=100)  # the 2nd factor: test_security_simswap
    _other_company(c)
    client = TestClient(create_app(c))
    page_login(client, ADMIN, area="enterprise")
    yield c, client, clock
    c.dispose()


def _upload(client, text: str):
    page = client.get("/enterprise")
    return client.post("/enterprise/uploads", data={"csrf": csrf_of(page.text), "reason": "团队解散"},
                       files={"file": ("numbers.csv", text.encode("utf-8"), "text/csv")}, follow_redirects=False)


def _batch_count(c) -> int:
    with c.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(orm.batches)).scalar_one()


def test_a_file_with_bad_rows_lists_them_by_row_and_starts_nothing(world):
    c, client, _ = world
    text = "号码\n" + FLEET[0] + "\n12345\n" + FLEET[1] + "\n18659102001\n" + FLEET[0] + "\n"
    r = _upload(client, text)
    assert r.status_code == 422
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", r.text)
    assert rows == [("3", "12345", "不是手机号码"), ("5", "18659102001", "不是本公司的号码"), ("6", FLEET[0], "重复出现")]
    assert "有些行需要修改（见下表），尚未开始办理。" in r.text
    assert _batch_count(c) == 0


def test_a_clean_file_of_50_closes_with_results_paged_and_a_chinese_csv(world):
    c, client, _ = world
    r = _upload(client, "\r\n".join(["msisdn"] + FLEET) + "\r\n")
    assert r.status_code == 303, r.text
    batch_id = r.headers["location"].rsplit("/", 1)[1]
    st = client.get(f"/v1/enterprise/batches/{batch_id}").json()
    assert (st["phase"], st["size"], st["eligible"], st["blocked"], st["reason"]) == ("prechecked", 50, 47, 3, "团队解散")
    page = client.get(f"/enterprise/batches/{batch_id}")
    r = client.post(f"/enterprise/batches/{batch_id}/submit", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    st = client.get(f"/v1/enterprise/batches/{batch_id}").json()
    assert (st["outcome"], st["completed"], st["not_completed"]) == ("partial", 47, 3)
    page2 = client.get(f"/enterprise/batches/{batch_id}", params={"page": 2})
    assert FLEET[25] in page2.text and FLEET[0] not in page2.text

    res = client.get(f"/enterprise/batches/{batch_id}/results-zh.csv")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    assert res.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(res.content.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "号码", "预检", "阻断原因", "受理单号", "结果", "原因代码", "退款（元）",
                       "完成时间（Asia/Shanghai）"]
    body = {int(r[0]): r for r in rows[1:]}
    assert len(body) == 50 and [body[i][1] for i in range(1, 51)] == FLEET
    for pos, code in BLOCKED.items():
        assert body[pos][2:4] == ["有阻断", code] and body[pos][5] == "未通过" and body[pos][7] == ""
        assert body[pos][8] == ""
    one = body[1]
    assert one[5] == "已销户" and re.fullmatch(r"\d+\.\d\d", one[7])
    local = datetime.strptime(one[8], "%Y-%m-%d %H:%M:%S")
    utc_now = c.now().replace(tzinfo=None)
    assert abs((local - timedelta(hours=8) - utc_now).total_seconds()) < 120   # Beijing time, UTC+8


def test_another_company_cannot_download_the_results(world):
    c, client, _ = world
    r = _upload(client, "\n".join(FLEET[:2]))
    batch_id = r.headers["location"].rsplit("/", 1)[1]
    other = TestClient(create_app(c))
    page_login(other, OTHER_ADMIN, area="enterprise")
    theirs = other.get(f"/enterprise/batches/{batch_id}/results-zh.csv")
    missing = other.get("/enterprise/batches/00000000-0000-4000-8000-000000000000/results-zh.csv")
    assert theirs.status_code == missing.status_code == 404 and FLEET[0] not in theirs.text


def test_an_upload_interrupted_by_a_restart_resumes(world):
    c, client, clock = world
    me = batches.status  # the runner never ran: the process died right after the upload
    from canceldesk.service_layer.principal import Principal
    p = Principal(kind="staff", id="ea-test", role="enterprise_admin", enterprise_id="E001")
    b = fleet_upload.upload(c, p, "\n".join(FLEET[:5]).encode())
    assert me(c, p, b["id"])["stalled"] is False
    clock.now += timedelta(minutes=5)
    page = client.get(f"/enterprise/batches/{b['id']}")
    assert "This batch stopped making progress" in page.text or "停止" in page.text
    r = client.post(f"/enterprise/batches/{b['id']}/resume", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    st = batches.status(c, p, b["id"])
    assert (st["phase"], st["prechecked"], st["stalled"]) == ("prechecked", 5, False)


def test_a_header_only_or_binary_file_is_refused(world):
    c, client, _ = world
    assert _upload(client, "号码\n").status_code == 422
    page = client.get("/enterprise")
    r = client.post("/enterprise/uploads", data={"csrf": csrf_of(page.text)},
                    files={"file": ("x.csv", b"\xff\xfe\x00\x81\x00", "text/csv")})
    assert r.status_code == 422
