"""The counter fits a walk-in: its breadcrumb is the visit's steps (find the customer, check the ID,
choose number and service, pre-check, confirm, receipt) with the agent's place in it, and a request's
timeline says who acted in words (no internal ids or codes) at local times — in both languages."""
from __future__ import annotations

import html as htmllib
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from canceldesk.demo.data import DEMO_LOGINS, PEOPLE
from canceldesk.entrypoints.api.app import create_app
from web_support import csrf_of, demo, page_login, staff_login  # noqa: F401 - demo is a fixture

GIFT, ARREARS, CLEAN = "18729035512", "13971208650", "13800138000"
ID_LAST6 = next(d["id_last6"] for d in DEMO_LOGINS if d["msisdn"] == CLEAN)
STEPS = {"zh": ["查找客户", "核验证件", "选择号码和业务", "预检查", "与客户确认", "业务凭证"],
         "en": ["Find the customer", "Check the ID", "Choose number and service", "Pre-check",
                "Confirm with the customer", "Receipt"]}
WORDS = {"zh": {"submitted": "已提交", "waiting": "待客户确认", "you": "您（agent，门店 BJ-CY-001）", "system": "系统",
                "customer": "客户本人", "counter": "营业厅"},
         "en": {"submitted": "Submitted", "waiting": "Waiting for the customer's confirmation",
                "you": "You (agent, store BJ-CY-001)", "system": "System", "customer": "The customer",
                "counter": "Counter"}}
INTERNAL = re.compile(r"\b(agent|subscriber|reviewer|admin|system):|\bsystem\b|\bC0\d\d\b|@BJ-")


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def walk_in(html: str) -> tuple[int, list[str], dict[int, str]]:
    """(the current step, the labels in order, what is shown under each step) of the counter's breadcrumb."""
    nav = re.search(r'<nav class="crumbs walkin-nav"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "no walk-in breadcrumb on the page"
    items = re.findall(r'<li class="(\w*)" data-step="(\d)"( aria-current="step")?>(.*?)</li>', nav.group(1), re.S)
    current = [int(n) for cls, n, cur, _ in items if cur]
    assert len(current) == 1 and items[current[0] - 1][0] == "current"
    assert all(cls == "done" for cls, n, _, _ in items[:current[0] - 1])
    labels = [text(re.sub(r'<span class="walkin-detail"[^>]*>.*?</span>', "", body)) for _, _, _, body in items]
    details = {int(n): text(d) for _, n, _, body in items for d in re.findall(r'<span class="walkin-detail"[^>]*>(.*?)</span>', body)}
    return current[0], labels, details


def timeline(html: str) -> list[tuple[str, str, str]]:
    """(time shown, its datetime attribute, the words of the entry) of each timeline entry."""
    block = re.search(r'<ol class="timeline">(.*?)</ol>', html, re.S).group(1)
    return [(shown, attr, text(rest)) for attr, shown, rest in
            re.findall(r'<li><time datetime="([^"]+)">([^<]+)</time>(.*?)</li>', block, re.S)]


def local(attr: str) -> str:
    return datetime.fromisoformat(attr).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_breadcrumb_follows_the_walk_in_and_the_timeline_speaks_words(demo, lang):
    client = TestClient(create_app(demo))
    staff_login(client, "agent", "agent-demo-2026")
    client.get(f"/lang/{lang}")
    cid, name, doc = next((p[0], p[1], p[2]) for p in PEOPLE if p[3] == GIFT)

    home = client.get("/counter").text
    assert walk_in(home)[:2] == (1, STEPS[lang])
    r = client.post("/counter/search", data={"csrf": csrf_of(home), "by": "doc", "doc_type": doc[0],
                                             "doc_number": doc[1]})
    step, labels, details = walk_in(r.text)
    assert (step, labels) == (2, STEPS[lang]) and details == {1: name[0] + "*"}
    assert '<a href="/counter">' in r.text                                    # back to a new search
    new_url = f"/counter/customers/{cid}/lines/{GIFT}/new?kind=close_line"
    assert walk_in(client.get(new_url).text)[0] == 2                          # no pre-check before the ID check

    r = client.post(f"/counter/customers/{cid}/idcheck", data={"csrf": csrf_of(r.text), "doc_type": doc[0],
                                                                 "doc_number": doc[1]})
    assert walk_in(r.text)[0] == 3                                            # ID checked: choose a number
    line = client.get(f"/counter/customers/{cid}/lines/{GIFT}").text
    assert walk_in(line)[0] == 3 and walk_in(line)[2][3] == GIFT

    pre = client.get(new_url).text
    step, _, details = walk_in(pre)
    assert step == 5 and details[4] == {"zh": "销户", "en": "Close number"}[lang]   # eligible: confirm with them
    r = client.post(f"/counter/customers/{cid}/lines/{GIFT}/new",
                    data={"csrf": csrf_of(pre), "kind": "close_line", "nonce": f"w-{lang}", "ack": "GIFT_BALANCE_FORFEIT"})
    no = re.search(r'id="tracking-no">(\w+)<', r.text).group(1)
    step, labels, details = walk_in(r.text)
    assert (step, labels[5], details[6]) == (6, STEPS[lang][5], no)
    assert details[1] == name[0] + "*" and details[3] == GIFT

    entries = timeline(r.text)
    assert [e for e in entries if WORDS[lang]["you"] in e[2]], entries      # the agent's own steps
    assert any(WORDS[lang]["waiting"] in e[2] for e in entries)
    assert any(e[2].endswith(WORDS[lang]["system"]) or f"{WORDS[lang]['system']} " in e[2] for e in entries)
    for shown, attr, words in entries:
        assert shown == local(attr), (shown, attr)                          # the pack's local time
        assert not INTERNAL.search(words), words                            # no ids or codes


def closed_on_the_portal(demo, msisdn: str) -> tuple[TestClient, TestClient, str]:
    """The subscriber asks to close the line on the portal: (their client, an admin's client, the tracking number)."""
    person = TestClient(create_app(demo))
    page_login(person, msisdn)
    html = person.get(f"/lines/{msisdn}/close").text
    r = person.post(f"/lines/{msisdn}/close", data={"csrf": csrf_of(html), "nonce": "c1"}, follow_redirects=True)
    no = re.search(r'id="tracking-no">(\w+)<', r.text).group(1)
    admin = TestClient(create_app(demo))
    staff_login(admin, "admin", "admin-demo-2026")
    return person, admin, no


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_customers_own_steps_read_as_the_customer_on_staff_screens(demo, lang):
    person, admin, no = closed_on_the_portal(demo, CLEAN)
    person.post(f"/requests/{no}/confirm", data={"csrf": csrf_of(person.get(f"/requests/{no}").text),
                                                 "id_last6": ID_LAST6})
    admin.get(f"/lang/{lang}")
    page = admin.get(f"/counter/requests/{no}").text
    assert "walkin-nav" not in page                      # not a walk-in: the way back is the queues
    entries = timeline(page)
    assert sum(WORDS[lang]["customer"] in e[2] for e in entries) >= 2      # asked and confirmed by the customer
    for shown, attr, words in entries:
        assert shown == local(attr) and not INTERNAL.search(words), words


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_request_that_was_not_carried_out_says_why_in_words(demo, lang):
    person, admin, no = closed_on_the_portal(demo, ARREARS)
    for client in (person, admin):
        client.get(f"/lang/{lang}")
        page = client.get(("/counter" if client is admin else "") + f"/requests/{no}").text
        why = text(re.search(r'<dd id="why-not">(.*?)</dd>', page, re.S).group(1))
        assert why == {"zh": "欠费未结清", "en": "Unpaid charges"}[lang], why
        assert "ARREARS" not in text(re.sub(r'data-code="\w+"', "", page))
