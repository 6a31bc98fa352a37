"""Save offers within the law: one per request, beside the cancel button, declined in one click,
never blocking the cancellation, never where the pack forbids them; counted on the dashboard."""
from __future__ import annotations

import re

from fastapi.testclient import TestClient

from canceldesk.entrypoints.api.app import create_app
from web_support import csrf_of, demo_container, page_login, staff_login

CLEAN = "13800138000"
VIDEO = f"S-{CLEAN}-MEM-VIDEO"


def ending_block(html: str, sub_id: str) -> str:
    part = html.split(f'data-subscription="{sub_id}"', 1)[1]
    return re.search(r'<div class="ending" data-kind="cancel_renewal">(?:(?!<div class="ending").)*', part, re.S).group(0)


def kpis(client) -> tuple[str, str, str]:
    html = client.get("/dashboard?days=7").text
    return tuple(re.search(rf'id="offers-{k}">(\d+)<', html).group(1) for k in ("made", "accepted", "declined"))


def test_offer_beside_cancel_declined_in_one_click_and_counted(tmp_path):
    c = demo_container(tmp_path / "o.db")
    client, admin = TestClient(create_app(c)), TestClient(create_app(c))
    page_login(client, CLEAN)
    staff_login(admin, "admin", "admin-demo-2026")
    html = client.get(f"/lines/{CLEAN}").text
    block = ending_block(html, VIDEO)
    assert ">取消自动续费</button>" in block                   # the cancel button, with the offer beside it
    assert "继续保留：接下来 3 个月半价" in block and ">不用了，谢谢<" in block
    assert html.count("继续保留：接下来 3 个月半价") == 3   # one per auto-renewing membership, never more
    client.get(f"/lines/{CLEAN}")                              # looking again makes no second offer
    assert kpis(admin) == ("3", "0", "0")
    offer = re.search(r'data-offer="([0-9a-f-]{36})"', block).group(1)
    r = client.post(f"/offers/{offer}", data={"csrf": csrf_of(html), "msisdn": CLEAN, "decision": "decline"},
                    follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/lines/{CLEAN}")
    html = client.get(f"/lines/{CLEAN}").text
    assert "继续保留" not in ending_block(html, VIDEO)           # declined: not offered again
    assert kpis(admin) == ("3", "0", "1")
    # the cancel button never waited for the offer: one click ends the renewal straight away
    r = client.post(f"/lines/{CLEAN}/end", data={"csrf": csrf_of(html), "kind": "cancel_renewal",
                                                  "subscription_id": f"S-{CLEAN}-MEM-MUSIC", "nonce": "o1"})
    assert re.search(r'data-status="(\w+)"', r.text).group(1) == "completed"
    c.dispose()


def test_no_offer_where_the_pack_forbids_it(tmp_path):
    c = demo_container(tmp_path / "eu.db", policy="eu")
    client = TestClient(create_app(c))
    page_login(client, CLEAN)
    html = client.get(f"/lines/{CLEAN}").text
    assert 'class="save-offer"' not in html and "data-offer=" not in html
    c.dispose()
