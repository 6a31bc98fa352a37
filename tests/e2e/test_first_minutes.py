"""What a newcomer, a counter agent and an auditor meet first: the counter recovers from a typo,
unknown URLs and the outbox are pages for a browser, a favicon exists, the receipt is what an
auditor accepts and the verify page takes a code as people type it."""
from __future__ import annotations

import io
import re

import pypdf
import pytest
from fastapi.testclient import TestClient

from canceldesk.demo.data import DEMO_LOGINS, PEOPLE
from canceldesk.entrypoints.api.app import create_app
from web_support import csrf_of, demo_container, page_login, staff_login

CLEAN, ARREARS = "13800138000", "13971208650"
ID_LAST6 = next(d["id_last6"] for d in DEMO_LOGINS if d["msisdn"] == CLEAN)
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture()
def world(tmp_path):
    c = demo_container(tmp_path / "first.db", fleet_step_up_over=100)  # the fleet second factor: test_security_simswap
    yield c, TestClient(create_app(c))
    c.dispose()


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def test_the_counter_id_check_recovers_from_a_typo_and_keeps_what_was_typed(world):
    c, client = world
    staff_login(client, "agent", "agent-demo-2026")
    cid, name, doc = next((p[0], p[1], p[2]) for p in PEOPLE if p[3] == CLEAN)
    new_url = f"/counter/customers/{cid}/lines/{CLEAN}/new?kind=close_line"
    page = client.get(new_url).text
    assert f'id="name-on-record">' in page and name in page            # what to compare with the card
    typo = doc[1][:-1] + ("1" if doc[1][-1] != "1" else "2")
    wrong = client.post(f"/counter/customers/{cid}/idcheck",
                        data={"csrf": csrf_of(page), "doc_type": doc[0], "doc_number": typo, "next": new_url})
    assert wrong.status_code == 422
    assert f'value="{typo}"' in wrong.text and hidden(wrong.text, "next") == new_url
    right = client.post(f"/counter/customers/{cid}/idcheck", follow_redirects=False,
                        data={"csrf": csrf_of(wrong.text), "doc_type": doc[0], "doc_number": doc[1],
                              "next": hidden(wrong.text, "next")})
    assert (right.status_code, right.headers["location"]) == (303, new_url)
    # a form rendered by an older page pointing back at the POST itself still lands on a page
    again = client.post(f"/counter/customers/{cid}/idcheck", follow_redirects=False,
                        data={"csrf": csrf_of(page), "doc_type": doc[0], "doc_number": doc[1],
                              "next": f"/counter/customers/{cid}/idcheck"})
    assert (again.status_code, again.headers["location"]) == (303, f"/counter/customers/{cid}")


def test_unknown_urls_answer_a_page_to_browsers_and_json_to_api_clients(world):
    _, client = world
    page = client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1>未找到</h1>" in page.text or "未找到" in page.text
    api = client.get("/v1/no/such/thing", headers=HTML)
    assert api.status_code == 404 and api.json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/no/such/page").json()["error"]["code"] == "NOT_FOUND"


def test_a_favicon_exists(world):
    _, client = world
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml" and r.content.startswith(b"<svg")
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").text


def test_the_outbox_is_a_readable_page_newest_first(world):
    _, client = world
    page_login(client, CLEAN)
    client.cookies.clear()
    page_login(client, CLEAN)
    r = client.get("/dev/outbox", params={"to": CLEAN}, headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    codes = re.findall(r"验证码 (\d{6})", r.text)
    as_json = [re.search(r"(\d{6})", m["text"]).group(1)
               for m in client.get("/dev/outbox", params={"to": CLEAN}).json()["messages"]]
    assert len(codes) == 2 and codes == list(reversed(as_json))          # newest first


def test_the_receipt_is_what_an_auditor_accepts(world):
    c, client = world
    page_login(client, CLEAN)
    html = client.get(f"/lines/{CLEAN}/close").text
    r = client.post(f"/lines/{CLEAN}/close", data={"csrf": csrf_of(html), "nonce": "r1"})
    no = re.search(r'id="tracking-no">(\w+)<', r.text).group(1)
    r = client.post(f"/requests/{no}/confirm", data={"csrf": csrf_of(html), "id_last6": ID_LAST6}, follow_redirects=True)
    code = re.search(r'id="verification-code"[^>]*>([A-Z2-7-]+)<', r.text).group(1)
    pdf = client.get(f"/v1/requests/{no}/receipt")
    doc = pypdf.PdfReader(io.BytesIO(pdf.content))
    text = doc.pages[0].extract_text()
    fonts = [f.get_object() for f in doc.pages[0]["/Resources"]["/Font"].values()]
    embedded = [f for f in fonts if "/FontDescriptor" in f and "/FontFile2" in f["/FontDescriptor"].get_object()]
    assert embedded, "the CJK font is embedded, not left to the reader"
    assert "办理单位: canceldesk 演示运营商" in text
    assert "号码: 138****8000" in text and "号码 138****8000" in text and "13800138000" not in text
    assert "退款去向: 原路退回（原付款方式）" in text
    assert "customer:" not in text and "payable:" not in text and "账务分录" not in text   # subscriber's copy
    completed = re.search(r"办结时间: (\d{4}-\d\d-\d\d \d\d:\d\d)\n", text)
    assert completed, text                                             # local, to the minute, no microseconds
    frozen_page = client.get(f"/requests/{no}").text
    frozen_day = re.search(r"号码冻结至: (\d{4}-\d\d-\d\d)", text).group(1)
    assert frozen_day in client.get("/").text or frozen_day in frozen_page
    # the auditor's copy: reviewers and admins only, with the ledger's accounts
    assert client.get(f"/v1/requests/{no}/receipt", params={"copy": "auditor"}).status_code == 403
    client.cookies.clear()
    staff_login(client, "admin", "admin-demo-2026")
    audit = client.get(f"/v1/requests/{no}/receipt", params={"copy": "auditor"})
    assert audit.status_code == 200
    assert "账务分录" in pypdf.PdfReader(io.BytesIO(audit.content)).pages[0].extract_text()
    # verification as people type it
    spaced = code.replace("-", " ").lower()
    r = client.get("/verify", params={"code": spaced}, follow_redirects=True)
    assert 'data-genuine="true"' in r.text
    rows = re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", r.text)
    assert rows and all(v.strip() for _, v in rows), rows             # no empty rows


def test_the_enterprise_console_adds_up(world):
    import csv

    from canceldesk.service_layer import auth
    from web_support import otp_from_outbox
    c, client = world
    admin, fleet = "13905912876", [f"1865910{1000 + i:04d}" for i in range(1, 51)]
    auth.send_otp(c, admin)
    token = auth.exchange_otp(c, admin, otp_from_outbox(client, admin), as_role="enterprise_admin")["token"]
    h = {"Authorization": f"Bearer {token}"}
    batch = client.post("/v1/enterprise/batches", json={"msisdns": fleet, "submit": True}, headers=h).json()
    st = client.get(f"/v1/enterprise/batches/{batch['id']}", headers=h).json()
    rows = list(csv.DictReader(io.StringIO(client.get(f"/v1/enterprise/batches/{batch['id']}/results.csv", headers=h).text)))
    closed = [r for r in rows if r["result"] == "completed"]
    assert all(r["refund_fen"] == "" for r in rows if r["result"] != "completed")   # no refund for a line not closed
    assert st["refund_total"] == sum(int(r["refund_fen"]) for r in closed) > 0
    page_login(client, admin, area="enterprise")
    html = client.get(f"/enterprise/batches/{batch['id']}").text
    assert '<span lang="zh-CN">福州闽信通电销服务有限公司</span>' in html
    assert re.search(r'id="refund-total">¥[\d,]+\.\d\d<', html)
    assert "ARREARS</small>" not in html                                # no raw codes beside the texts
