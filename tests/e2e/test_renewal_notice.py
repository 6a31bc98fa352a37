"""A renewal due within 24 hours (the demo's 19973140628: its music membership renews tomorrow) is
information: said once, in the reader's language, never as something to resolve or a box to tick —
on the portal's line page, in the close wizard and in the counter's pre-check."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from canceldesk.demo.data import PEOPLE
from canceldesk.entrypoints.api.app import create_app
from web_support import csrf_of, demo, page_login, staff_login  # noqa: F401 - demo is a fixture

RENEWS = "19973140628"
NOTE = {"zh": "咪咕音乐会员 将在 24 小时内自动续费；现在办理仍会阻止这次续费扣款。您无需另做处理。",
        "en": "Due to renew within 24 hours: Migu Music membership. Ending it now still stops that renewal charge. "
              "There is nothing else to do."}
TO_RESOLVE = ("解决办法", "How to resolve", "请逐项阅读并勾选", "Please read and tick each point", "勾选", "tick each")


def notes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", n).strip()
            for n in re.findall(r'<p class="note-info" data-code="RENEWAL_IMMINENT">(.*?)</p>', html, re.S)]


def said_once(html: str, lang: str) -> None:
    assert notes(html) == [NOTE[lang]]
    fact = {"zh": "将在 24 小时内自动续费", "en": "renew within 24 hours"}[lang]
    assert html.count(fact) == 1                                      # nowhere else on the page
    assert 'data-code="RENEWAL_IMMINENT"' in html and '<li data-code="RENEWAL_IMMINENT"' not in html
    assert 'type="checkbox" id="ack-RENEWAL_IMMINENT"' not in html
    around = html[html.index('class="note-info"') - 300:html.index('class="note-info"') + 400]
    assert not any(w in around for w in TO_RESOLVE), around


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_portal_says_it_once_as_information_and_closing_needs_no_tick_for_it(demo, lang):
    client = TestClient(create_app(demo))
    client.get(f"/lang/{lang}")
    page_login(client, RENEWS)
    line = client.get(f"/lines/{RENEWS}").text
    said_once(line, lang)
    music = re.search(r'data-subscription="[^"]*MUSIC[^"]*".*?</li>\s*(?=<li class="card product"|</ul>)', line, re.S)
    assert music and NOTE[lang] in re.sub(r"\s+", " ", music.group(0))  # beside the membership it is about

    close = client.get(f"/lines/{RENEWS}/close").text
    said_once(close, lang)
    # the form acknowledges what it showed: submitting it as the page has it is accepted
    form = re.search(r'<form method="post" action="/lines/19973140628/close".*?</form>', close, re.S).group(0)
    assert re.findall(r'name="ack" value="(\w+)"', form) == ["RENEWAL_IMMINENT"]
    r = client.post(f"/lines/{RENEWS}/close", data={"csrf": csrf_of(close), "nonce": f"r-{lang}",
                                                    "ack": "RENEWAL_IMMINENT"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/requests/CD")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_counters_pre_check_says_it_once_as_information(demo, lang):
    client = TestClient(create_app(demo))
    staff_login(client, "agent", "agent-demo-2026")
    client.get(f"/lang/{lang}")
    cid, doc = next((p[0], p[2]) for p in PEOPLE if p[3] == RENEWS)
    start = client.get(f"/counter/customers/{cid}").text
    client.post(f"/counter/customers/{cid}/idcheck", data={"csrf": csrf_of(start), "doc_type": doc[0],
                                                             "doc_number": doc[1]})
    pre = client.get(f"/counter/customers/{cid}/lines/{RENEWS}/new?kind=close_line").text
    said_once(pre, lang)
    assert '<fieldset class="card warnings">' not in pre              # nothing else to read out and tick
