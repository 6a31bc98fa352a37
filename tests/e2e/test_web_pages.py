"""The pages over HTTP (no browser): CSRF on every form, who sees what, the policy packs' texts,
the counter's in-person ID check, complaints reaching staff, reviews, and the dashboard's exports."""
from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from canceldesk.demo.data import DEMO_LOGINS, PEOPLE
from canceldesk.entrypoints.api.app import create_app
from web_support import csrf_of, demo_container, page_login, staff_login

CLEAN, ARREARS, PASSPORT = "13800138000", "13971208650", "18601326580"
ID_LAST6 = next(d["id_last6"] for d in DEMO_LOGINS if d["msisdn"] == CLEAN)


@pytest.fixture()
def world(tmp_path):
    c = demo_container(tmp_path / "pages.db")
    yield c, lambda: TestClient(create_app(c))
    c.dispose()


def tracking_no(html: str) -> str:
    return re.search(r'id="tracking-no">(\w+)<', html).group(1)


def status_of(html: str) -> str:
    return re.search(r'data-status="(\w+)"', html).group(1)


def field_error(html: str, field: str) -> str:
    m = re.search(rf'id="err-{field}"[^>]*>([^<]+)<', html)
    return m.group(1) if m else ""


def test_the_portal_opens_at_the_root_in_chinese(world):
    _, new = world
    r = new().get("/")
    assert r.status_code == 200 and '<html lang="zh-CN">' in r.text
    assert "使用手机号码登录" in r.text and 'name="csrf"' in r.text
    assert r.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_every_form_post_needs_its_csrf_token(world):
    c, new = world
    client = new()
    page_login(client, CLEAN)
    html = client.get(f"/lines/{CLEAN}").text
    body = {"kind": "unsubscribe", "subscription_id": f"S-{CLEAN}-VAS-CRBT", "nonce": "x1"}
    for token in (None, "", "forged-token", csrf_of(new().get("/").text)):   # none, empty, made up, someone else's
        data = body if token is None else {**body, "csrf": token}
        r = client.post(f"/lines/{CLEAN}/end", data=data)
        assert r.status_code == 403 and "表单已失效" in r.text
    with c.uow() as uow:
        assert uow.repo.requests_of("C001") == []                       # nothing was created
    for path in ("/logout", f"/lines/{CLEAN}/close", "/login/otp", "/staff/login", "/counter/search",
                 "/enterprise/batches", "/requests/CD20260101DEADBEEF/confirm"):
        r = client.post(path, data={"x": "1"}, follow_redirects=False)     # refused: no token (or the wrong role)
        assert r.status_code == 403 or (r.status_code == 303 and "login" in r.headers["location"]), path
    ok = client.post(f"/lines/{CLEAN}/end", data={**body, "csrf": csrf_of(html)})
    assert ok.status_code == 200 and status_of(ok.text) == "completed"


def test_session_cookie_flags(world):
    _, new = world
    client = TestClient(new().app, base_url="https://testserver")
    start = client.get("/")
    r = client.post("/login/otp", data={"csrf": csrf_of(start.text), "msisdn": CLEAN})
    from web_support import otp_from_outbox
    r = client.post("/login/verify", data={"csrf": csrf_of(r.text), "msisdn": CLEAN, "otp": otp_from_outbox(client, CLEAN)},
                    follow_redirects=False)
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("cd_session="))
    flags = {p.strip().lower() for p in cookie.split(";")}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags


def test_a_subscriber_never_sees_another_persons_line_or_request(world):
    _, new = world
    mine, theirs = new(), new()
    page_login(mine, CLEAN)
    page_login(theirs, ARREARS)
    html = mine.get(f"/lines/{CLEAN}").text
    r = mine.post(f"/lines/{CLEAN}/end", data={"csrf": csrf_of(html), "kind": "cancel_renewal",
                                               "subscription_id": f"S-{CLEAN}-MEM-VIDEO", "nonce": "n"})
    no = tracking_no(r.text)
    for path in (f"/lines/{CLEAN}", f"/lines/{CLEAN}/close", f"/requests/{no}"):
        r = theirs.get(path)
        ghost = theirs.get(path.replace(CLEAN, "13700137000").replace(no, "CD20260101DEADBEEF"))
        assert r.status_code == ghost.status_code == 404 and "未找到" in r.text
    assert theirs.get(f"/v1/requests/{no}/receipt").status_code == 404


def test_close_line_wizard_checks_the_second_factor(world):
    _, new = world
    client = new()
    page_login(client, CLEAN)
    html = client.get(f"/lines/{CLEAN}/close").text
    assert "退款" in html and "冻结 90 天" in html
    r = client.post(f"/lines/{CLEAN}/close", data={"csrf": csrf_of(html), "nonce": "w1", "reason": "switching_operator"})
    assert r.status_code == 200 and status_of(r.text) == "awaiting_confirmation"
    no = tracking_no(r.text)
    r = client.post(f"/requests/{no}/confirm", data={"csrf": csrf_of(html), "id_last6": "000000"})
    assert r.status_code == 403 and field_error(r.text, "id_last6") == "与登记信息不符，还可再试 4 次。"
    assert 'aria-describedby="err-id_last6"' in r.text
    r = client.post(f"/requests/{no}/confirm", data={"csrf": csrf_of(html), "id_last6": ID_LAST6.lower()},
                    follow_redirects=True)
    assert status_of(r.text) == "completed" and "verification-code" in r.text
    assert "转到其他运营商" in r.text                                       # the reason, shown translated


def test_warnings_must_be_ticked_with_the_error_next_to_the_box(world):
    _, new = world
    client = new()
    gift = "18729035512"
    page_login(client, gift)
    html = client.get(f"/lines/{gift}/close").text
    assert 'id="ack-GIFT_BALANCE_FORFEIT"' in html
    r = client.post(f"/lines/{gift}/close", data={"csrf": csrf_of(html), "nonce": "g1"})
    assert r.status_code == 422 and field_error(r.text, "ack-GIFT_BALANCE_FORFEIT") == "请逐项勾选，表示您已阅读。"


def test_eu_withdrawal_button_and_confirmation_read_exactly_as_the_law_says(tmp_path):
    c = demo_container(tmp_path / "eu.db", policy="eu")
    client = TestClient(create_app(c))
    page_login(client, CLEAN)
    html = client.get(f"/lines/{CLEAN}").text
    music = f"S-{CLEAN}-MEM-MUSIC"                                    # signed up 3 days ago: inside 14 days
    assert f'<a class="button" href="/lines/{CLEAN}/withdraw/{music}">withdraw from contract here</a>' in html
    page = client.get(f"/lines/{CLEAN}/withdraw/{music}")
    assert '<button type="submit" class="primary">confirm withdrawal</button>' in page.text
    assert '<html lang="en">' in page.text                                # the EU pack's default language
    zh = TestClient(create_app(c), cookies=client.cookies)               # a reader who chose Chinese reads it in Chinese
    zh.get("/lang/zh")
    assert f'<a class="button" href="/lines/{CLEAN}/withdraw/{music}">在此撤回合同</a>' in zh.get(f"/lines/{CLEAN}").text
    assert '<button type="submit" class="primary">确认撤回</button>' in zh.get(f"/lines/{CLEAN}/withdraw/{music}").text
    r = client.post(f"/lines/{CLEAN}/end", data={"csrf": csrf_of(page.text), "kind": "withdraw",
                                                 "subscription_id": music, "nonce": "eu1"})
    assert status_of(r.text) == "completed"
    c.dispose()


def test_us_ca_cancelling_a_renewal_is_one_click_with_no_save_offer_in_between(tmp_path):
    c = demo_container(tmp_path / "ca.db", policy="us-ca")
    client = TestClient(create_app(c))
    page_login(client, CLEAN)
    html = client.get(f"/lines/{CLEAN}").text
    form = re.search(r'<div class="ending" data-kind="cancel_renewal">.*?</form>', html.split(f'data-subscription="S-{CLEAN}-MEM-VIDEO"', 1)[1], re.S)
    assert form and "Stop auto-renewal" in form.group(0)
    r = client.post(f"/lines/{CLEAN}/end", data={"csrf": csrf_of(html), "kind": "cancel_renewal",
                                                 "subscription_id": f"S-{CLEAN}-MEM-VIDEO", "nonce": "ca1"},
                    follow_redirects=False)
    assert r.status_code == 303                                            # straight to the result
    assert status_of(client.get(r.headers["location"]).text) == "completed"
    c.dispose()


def test_counter_needs_the_in_person_id_check_and_never_shows_the_full_number(world):
    c, new = world
    client = new()
    staff_login(client, "agent", "agent-demo-2026")
    cid, doc = next((p[0], p[2]) for p in PEOPLE if p[3] == CLEAN)
    home = client.get("/counter").text
    r = client.post("/counter/search", data={"csrf": csrf_of(home), "by": "doc", "doc_type": doc[0], "doc_number": doc[1]},
                    follow_redirects=False)
    assert r.headers["location"] == f"/counter/customers/{cid}"
    miss = client.post("/counter/search", data={"csrf": csrf_of(home), "by": "msisdn", "msisdn": "13700137000"})
    assert field_error(miss.text, "msisdn") == "未找到客户。"
    page = client.get(f"/counter/customers/{cid}/lines/{CLEAN}/new?kind=close_line").text
    assert "请先完成现场证件核验" in page and doc[1] not in page
    blocked = client.post(f"/counter/customers/{cid}/lines/{CLEAN}/new",
                          data={"csrf": csrf_of(page), "kind": "close_line", "nonce": "a1"})
    assert blocked.status_code == 422
    other_doc = next(p[2] for p in PEOPLE if p[3] == ARREARS)              # a real ID, but someone else's
    wrong = client.post(f"/counter/customers/{cid}/idcheck", data={"csrf": csrf_of(page), "doc_type": other_doc[0],
                                                                     "doc_number": other_doc[1]})
    assert field_error(wrong.text, "doc_number") == "该证件与客户的实名登记信息不符。"
    ok = client.post(f"/counter/customers/{cid}/idcheck", data={"csrf": csrf_of(page), "doc_type": doc[0],
                                                                  "doc_number": doc[1]})
    assert "已核验" in ok.text and doc[1] not in ok.text and doc[1][:3] + "*" * 12 + doc[1][-3:] in ok.text
    assert "cd_idcheck" in client.cookies and doc[1] not in client.cookies["cd_idcheck"]   # encrypted
    page = client.get(f"/counter/customers/{cid}/lines/{CLEAN}/new?kind=close_line").text
    r = client.post(f"/counter/customers/{cid}/lines/{CLEAN}/new",
                    data={"csrf": csrf_of(page), "kind": "close_line", "nonce": "a2"})
    assert status_of(r.text) == "completed" and "/v1/requests/" in r.text
    assert client.get(f"/v1/requests/{tracking_no(r.text)}/receipt").content.startswith(b"%PDF")   # print it


def test_a_large_refund_waits_for_a_reviewer_and_a_complaint_reaches_staff(world):
    c, new = world
    person = next(d for d in DEMO_LOGINS if d["msisdn"] == PASSPORT)
    client = new()
    page_login(client, PASSPORT)
    html = client.get(f"/lines/{PASSPORT}/close").text
    r = client.post(f"/lines/{PASSPORT}/close", data={"csrf": csrf_of(html), "nonce": "p1"}, follow_redirects=True)
    no = tracking_no(r.text)
    r = client.post(f"/requests/{no}/confirm", data={"csrf": csrf_of(html), "service_password": person["service_password"]},
                    follow_redirects=True)
    assert status_of(r.text) == "in_review" and 'data-autorefresh="15"' in r.text
    r = client.post(f"/requests/{no}/complaints", data={"csrf": csrf_of(html), "kind": "complaint", "text": ""})
    assert field_error(r.text, "text") == "请简要描述。"
    r = client.post(f"/requests/{no}/complaints", data={"csrf": csrf_of(html), "kind": "complaint",
                                                         "text": "为什么要人工复核？"}, follow_redirects=True)
    ref = re.search(r"编号：(TS\w+)", r.text).group(1)

    reviewer = new()
    staff_login(reviewer, "reviewer", "reviewer-demo-2026")
    queues = reviewer.get("/counter/queues").text
    assert no in queues and ref in queues and "为什么要人工复核？" in queues
    page = reviewer.get(f"/counter/requests/{no}").text
    r = reviewer.post(f"/counter/requests/{no}/review", data={"csrf": csrf_of(page), "decision": "reject"})
    assert field_error(r.text, "reason")                                   # a rejection needs a reason
    r = reviewer.post(f"/counter/requests/{no}/review", data={"csrf": csrf_of(page), "decision": "approve"},
                      follow_redirects=True)
    assert status_of(r.text) == "completed"
    r = reviewer.post(f"/counter/complaints/{ref}/resolve", data={"csrf": csrf_of(page), "resolution": "退款超过500元需复核，已通过。"},
                      follow_redirects=True)
    assert ref not in r.text.split('id="complaints"')[1]
    mine = client.get(f"/requests/{no}").text
    assert "退款超过500元需复核，已通过。" in mine and "已答复" in mine


def test_areas_send_the_wrong_role_to_their_login(world):
    _, new = world
    client = new()
    page_login(client, CLEAN)
    for path, login in (("/counter", "/staff/login"), ("/dashboard", "/staff/login"), ("/enterprise", "/enterprise/login")):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith(f"{login}?next=")
    anonymous = new()
    r = anonymous.get(f"/lines/{CLEAN}", follow_redirects=False)
    assert r.headers["location"] == f"/?next=%2Flines%2F{CLEAN}"
    assert new().get("/lang/en?next=https://evil.example", follow_redirects=False).headers["location"] == "/"


def test_dashboard_reports_and_csv_exports(world):
    c, new = world
    client = new()
    page_login(client, ARREARS)
    html = client.get(f"/lines/{ARREARS}").text
    client.post(f"/lines/{ARREARS}/end", data={"csrf": csrf_of(html), "kind": "unsubscribe",
                                                "subscription_id": f"S-{ARREARS}-VAS-CRBT", "nonce": "d1"})
    admin = new()
    staff_login(admin, "admin", "admin-demo-2026")
    page = admin.get("/dashboard?days=7").text
    assert page.count('<svg class="chart"') == 8 and "续费扣款" in page
    for name in ("volumes", "completion", "breaches", "reasons", "renewals"):
        r = admin.get(f"/dashboard/{name}.csv?days=7")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert len(rows[0]) >= 3, name
    volumes = list(csv.reader(io.StringIO(admin.get("/dashboard/volumes.csv?days=7").content.decode("utf-8-sig"))))
    assert ["kind", "unsubscribe", "1"] in volumes and ["channel", "app", "1"] in volumes
    assert len([r for r in volumes if r[0] == "day"]) == 7
    assert admin.get("/dashboard/nonsense.csv").status_code == 422
