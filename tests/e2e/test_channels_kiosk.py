"""The kiosk (/kiosk): the portal locked down for a store's terminal — over HTTP and in a real browser."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from canceldesk.demo.data import PEOPLE
from canceldesk.entrypoints.api.app import create_app
from live_support import chromium, live_server
from web_support import csrf_of, demo_container, otp_from_outbox

_CID, NAME, (DOC_TYPE, DOC_NUMBER), MSISDN, _PW, _S = PEOPLE[0]
OTHER_DOC = PEOPLE[1][2][1]


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    c = demo_container(tmp_path_factory.mktemp("kiosk") / "kiosk.db")
    yield c
    c.dispose()


def kiosk_login(client, doc_number: str = DOC_NUMBER, msisdn: str = MSISDN):
    start = client.get("/kiosk")
    assert start.status_code == 200
    r = client.post("/kiosk/otp", data={"csrf": csrf_of(start.text), "doc_type": DOC_TYPE, "doc_number": doc_number,
                                        "msisdn": msisdn})
    assert r.status_code == 200, r.text
    return r


def outbox_otps(client, msisdn: str) -> int:
    return sum(1 for m in client.get("/dev/outbox", params={"to": msisdn}).json()["messages"] if m["event"] == "otp")


def test_login_by_id_document_and_code_then_requests_record_the_kiosk_channel(web):
    client = TestClient(create_app(web))
    r = kiosk_login(client)
    assert 'class="area-portal kiosk"' in r.text and 'data-idle-seconds="60"' in r.text
    ticket = re.search(r'name="ticket" value="([^"]+)"', r.text).group(1)
    done = client.post("/kiosk/verify", data={"csrf": csrf_of(r.text), "msisdn": MSISDN, "ticket": ticket,
                                              "otp": otp_from_outbox(client, MSISDN)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"
    client.cookies.set("cd_session", done.cookies["cd_session"])
    client.cookies.set("cd_kiosk", done.cookies["cd_kiosk"])
    home = client.get("/")
    assert home.status_code == 200 and 'class="area-portal kiosk"' in home.text
    assert 'action="/kiosk/logout"' in home.text and "/static/kiosk.js" in home.text
    assert 'target="_blank"' not in home.text and 'href="http' not in home.text  # no way off the terminal
    assert "/dev/outbox" not in home.text

    line = client.get(f"/lines/{MSISDN}")
    form = re.search(r'<form method="post" action="/lines/%s/end".*?</form>' % MSISDN, line.text, re.S).group(0)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    ended = client.post(f"/lines/{MSISDN}/end", data=fields, follow_redirects=False)
    assert ended.status_code == 303, ended.text
    tracking = ended.headers["location"].rsplit("/", 1)[1]
    with web.uow() as uow:
        req = uow.repo.request(tracking)
    assert req.channel == "kiosk"
    assert {t.channel for t in req.timeline if t.actor.startswith("subscriber:")} == {"kiosk"}
    page = client.get(f"/requests/{tracking}")
    assert 'id="receipt-print"' in page.text and 'id="receipt-pdf"' not in page.text

    out = client.post("/kiosk/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/kiosk"
    assert client.get(f"/requests/{tracking}", follow_redirects=False).status_code == 303  # the session ended


def test_a_document_that_is_not_the_owners_gets_the_same_page_and_no_code(web):
    client = TestClient(create_app(web))
    before = outbox_otps(client, MSISDN)
    r = kiosk_login(client, doc_number=OTHER_DOC)
    assert "如证件与 138****8000 的实名登记信息一致，6 位验证码已发送至该号码。" in r.text
    assert outbox_otps(client, MSISDN) == before
    ticket = re.search(r'name="ticket" value="([^"]+)"', r.text).group(1)
    bad = client.post("/kiosk/verify", data={"csrf": csrf_of(r.text), "msisdn": MSISDN, "ticket": ticket,
                                             "otp": "123456"})
    assert bad.status_code == 422 and "验证码错误或已过期，请重新获取。" in bad.text
    assert "cd_session" not in bad.cookies


def test_a_forged_kiosk_cookie_is_not_kiosk_mode(web):
    client = TestClient(create_app(web))
    from web_support import page_login
    page_login(client, MSISDN)
    client.cookies.set("cd_kiosk", "forged")
    home = client.get("/")
    assert 'class="area-portal"' in home.text and "kiosk.js" not in home.text


def test_a_malformed_document_is_a_422_saying_what_to_fix(web):
    client = TestClient(create_app(web))
    start = client.get("/kiosk")
    r = client.post("/kiosk/otp", data={"csrf": csrf_of(start.text), "doc_type": "cn_ric", "doc_number": "123",
                                        "msisdn": MSISDN})
    assert r.status_code == 422 and 'id="err-doc_number"' in r.text


# ----------------------------------------------------------------------------------------- browser

@pytest.fixture(scope="module")
def server(web):
    with live_server(web) as base:
        yield base


@pytest.mark.browser
def test_kiosk_logs_out_and_clears_the_screen_after_60_seconds_idle(server):
    with chromium() as browser:
        context = browser.new_context(base_url=server, locale="zh-CN", viewport={"width": 1080, "height": 1920})
        page = context.new_page()
        page.clock.install()
        page.goto("/kiosk")
        page.select_option("#doc_type", DOC_TYPE)
        page.fill("#doc_number", DOC_NUMBER)
        page.fill("#msisdn", MSISDN)
        page.click("#kiosk-login button[type=submit]")
        page.fill("#otp", _otp(page, server))
        page.click("#kiosk-code button[type=submit]")
        page.wait_for_url(f"{server}/")
        assert page.locator("body.kiosk").count() == 1
        assert MSISDN[:3] in page.inner_text("main")
        assert float(page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")) >= 22

        page.clock.run_for(59_000)  # still there just before the minute
        assert page.url == f"{server}/"
        page.clock.run_for(2_000)
        page.wait_for_url(f"{server}/kiosk")
        assert page.locator("#kiosk-login").count() == 1
        assert MSISDN not in page.content()
        assert [c for c in context.cookies() if c["name"] == "cd_session"] == []
        page.goto("/")
        assert page.locator("body.kiosk").count() == 0  # nobody is logged in any more


def _otp(page, server: str) -> str:
    response = page.request.get(f"{server}/dev/outbox?to={MSISDN}")
    texts = [m["text"] for m in response.json()["messages"] if m["event"] == "otp"]
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)
