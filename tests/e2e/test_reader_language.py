"""Language is the reader's, currency is the pack's: every page and message in English, under each
pack, has no Chinese character and no other currency's sign; times are local and one form."""
from __future__ import annotations

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pypdf
import pytest
from fastapi.testclient import TestClient

from datetime import datetime
from zoneinfo import ZoneInfo

from canceldesk.bootstrap import load_policy
from canceldesk.demo.data import DEMO_LOGINS, PEOPLE
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import auth
from web_support import csrf_of, demo_container, otp_from_outbox, page_login, staff_login

CLEAN, ARREARS, BINDINGS, GIFT, RENEWS = "13800138000", "13971208650", "13655321789", "18729035512", "19973140628"
ADMIN = "13905912876"
ID_LAST6 = next(d["id_last6"] for d in DEMO_LOGINS if d["msisdn"] == CLEAN)
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# the pack's currency as English readers see it, and the signs that must not appear
SIGNS = {"cn": ("CN¥", ("€", "$")), "eu": ("€", ("¥", "$")), "us-ca": ("$", ("¥", "€"))}


def visible(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    # text marked as Chinese on purpose (the language switch "中文", a person's own name) is not a slip
    html = re.sub(r'<(\w+)[^>]*\blang="zh[^"]*"[^>]*>.*?</\1>', " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html)


def check(what: str, text: str, pack: str, seen: list) -> None:
    assert not CJK.search(text), f"{what}: Chinese in English: {CJK.findall(text)[:10]} in …{text[:400]}"
    _, wrong = SIGNS[pack]
    for sign in wrong:
        assert sign not in text, f"{what}: {sign!r} under the {pack} pack: …{text[:400]}"
    seen.append(text)


@pytest.fixture(params=["cn", "eu", "us-ca"])
def english(request, tmp_path):
    c = demo_container(tmp_path / f"{request.param}.db", policy=request.param)
    client = TestClient(create_app(c), headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    yield request.param, c, client
    c.dispose()


def page(client, path: str, pack: str, seen: list, **kw) -> str:
    r = client.get(path, **kw)
    assert r.status_code == 200, (path, r.status_code)
    check(path, visible(r.text), pack, seen)
    return r.text


def test_every_page_and_message_in_english_under_each_pack(english):
    pack, c, client = english
    seen: list[str] = []
    page(client, "/", pack, seen)
    page_login(client, CLEAN)
    page(client, "/", pack, seen)
    html = page(client, f"/lines/{CLEAN}", pack, seen)
    # a one-click unsubscribe (the data booster refunds pro rata)
    r = client.post(f"/lines/{CLEAN}/end", data={"csrf": csrf_of(html), "kind": "unsubscribe", "nonce": "l1",
                                                 "subscription_id": f"S-{CLEAN}-VAS-DATA-10G"}, follow_redirects=True)
    check("unsubscribed", visible(r.text), pack, seen)
    page(client, f"/lines/{CLEAN}/close", pack, seen)
    r = client.post(f"/lines/{CLEAN}/close", data={"csrf": csrf_of(html), "nonce": "l2"})
    check("close submitted", visible(r.text), pack, seen)
    no = re.search(r'id="tracking-no">(\w+)<', r.text).group(1)
    r = client.post(f"/requests/{no}/confirm", data={"csrf": csrf_of(html), "id_last6": "000000"})
    check("wrong second factor", visible(r.text), pack, seen)
    r = client.post(f"/requests/{no}/confirm", data={"csrf": csrf_of(html), "id_last6": ID_LAST6}, follow_redirects=True)
    done = visible(r.text)
    check("closed", done, pack, seen)
    code = re.search(r'id="verification-code"[^>]*>([A-Z2-7-]+)<', r.text).group(1)
    page(client, f"/verify/{code}", pack, seen)
    # the receipt, as the subscriber downloads it
    pdf = client.get(f"/v1/requests/{no}/receipt")                      # the page's download link
    assert pdf.status_code == 200
    receipt_text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    check("receipt PDF", receipt_text, pack, seen)
    assert SIGNS[pack][0] in receipt_text
    # blockers and warnings of the other demo people
    for who in (ARREARS, BINDINGS, GIFT, RENEWS):
        client.cookies.clear()
        page_login(client, who)
        page(client, f"/lines/{who}", pack, seen)
        page(client, f"/lines/{who}/close", pack, seen)
    # staff: the counter and the dashboard
    client.cookies.clear()
    staff_login(client, "agent", "agent-demo-2026")
    home = page(client, "/counter", pack, seen)
    # a walk-in at the counter: find the customer, check the ID, the line, the pre-check, submit, the request
    cid, (doc_type, doc_number) = next((p[0], p[2]) for p in PEOPLE if p[3] == GIFT)
    r = client.post("/counter/search", data={"csrf": csrf_of(home), "by": "doc", "doc_type": doc_type,
                                             "doc_number": doc_number})
    check("counter customer", visible(r.text), pack, seen)
    r = client.post(f"/counter/customers/{cid}/idcheck", data={"csrf": csrf_of(home), "doc_type": doc_type,
                                                                 "doc_number": doc_number})
    check("counter ID checked", visible(r.text), pack, seen)
    page(client, f"/counter/customers/{cid}/lines/{GIFT}", pack, seen)
    pre = page(client, f"/counter/customers/{cid}/lines/{GIFT}/new?kind=close_line", pack, seen)
    r = client.post(f"/counter/customers/{cid}/lines/{GIFT}/new", data={
        "csrf": csrf_of(pre), "kind": "close_line", "nonce": "walk-in", "ack": "GIFT_BALANCE_FORFEIT"})
    check("counter request", visible(r.text), pack, seen)
    assert 'data-status="completed"' in r.text and SIGNS[pack][0] in visible(r.text)
    tz = ZoneInfo(load_policy(pack).timezone)
    for attr, shown in re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', r.text):
        assert shown == datetime.fromisoformat(attr).astimezone(tz).strftime("%Y-%m-%d %H:%M"), (pack, attr, shown)
    client.cookies.clear()
    staff_login(client, "admin", "admin-demo-2026")
    page(client, "/dashboard", pack, seen)
    page(client, "/counter/queues", pack, seen)
    # the enterprise console and a batch's blocked lines
    client.cookies.clear()
    page_login(client, ADMIN, area="enterprise")
    fleet = page(client, "/enterprise", pack, seen)
    numbers = re.findall(r'name="msisdn" value="(\d{11})"', fleet)[:10]
    r = client.post("/enterprise/batches", data={"csrf": csrf_of(fleet), "msisdn": numbers}, follow_redirects=True)
    check("batch", visible(r.text), pack, seen)
    # every message sent in all of this
    for m in client.get("/dev/outbox").json()["messages"]:
        check(f"SMS {m['event']}", m["text"], pack, seen)
    assert any(SIGNS[pack][0] in t for t in seen)


def test_times_in_the_api_are_iso_with_the_packs_offset_in_every_list(tmp_path):
    c = demo_container(tmp_path / "times.db")
    client = TestClient(create_app(c))
    auth.send_otp(c, CLEAN)
    h = {"Authorization": f"Bearer {auth.exchange_otp(c, CLEAN, otp_from_outbox(client, CLEAN))['token']}"}
    sub = f"S-{CLEAN}-VAS-CRBT"
    r = client.post("/v1/requests", json={"kind": "cancel_renewal", "msisdn": CLEAN, "subscription_id": sub}, headers=h)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["created_at"].endswith("+08:00") and "." not in req["created_at"]
    done = client.post(f"/v1/requests/{req['tracking_no']}/confirm", headers=h).json()
    listed = next(s for s in client.get(f"/v1/lines/{CLEAN}/subscriptions", headers=h).json()["subscriptions"]
                  if s["id"] == sub)
    assert listed["access_ends_at"] == done["impact"]["access_ends_at"]
    assert listed["access_ends_at"].endswith("T00:00:00+08:00")
    assert all(t["at"].endswith("+08:00") for t in done["timeline"])
    c.dispose()


def test_the_language_follows_the_browser_until_the_person_chooses(tmp_path):
    c = demo_container(tmp_path / "lang.db")
    client = TestClient(create_app(c))
    assert '<html lang="zh' in client.get("/").text
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "en-US,en;q=0.8"}).text
    assert '<html lang="en">' in client.get("/?lang=en").text
    client.get("/lang/zh")                                            # a choice made beats the browser
    assert '<html lang="zh' in client.get("/", headers={"Accept-Language": "en"}).text
    c.dispose()
