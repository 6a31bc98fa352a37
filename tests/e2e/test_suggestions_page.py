"""The portal marks what could be stopped, under every pack, with one click to act."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from canceldesk.entrypoints.api.app import create_app
from web_support import csrf_of, demo_container, page_login


def suggestions_of(html: str) -> dict[str, str]:
    return dict(re.findall(r'id="sub-S-\d+-([A-Z0-9-]+)".*?data-suggestions="([^"]*)"', html, re.S))


@pytest.mark.parametrize("policy", ["cn", "eu", "us-ca"])
def test_line_page_marks_unused_price_rise_and_trial_then_one_click_acts(tmp_path, policy):
    c = demo_container(tmp_path / "s.db", policy=policy)
    client = TestClient(create_app(c))
    page_login(client, "13800138000")
    html = client.get("/lines/13800138000").text
    marks = {k: v for k, v in re.findall(r'id="sub-S-13800138000-([A-Z0-9-]+)"[^>]*>(?:(?!</li>).)*?data-suggestions="([^"]*)"',
                                         html, re.S)}
    assert marks == {"VAS-CRBT": "unused", "MEM-VIDEO": "price_rise", "MEM-MUSIC": "renews_after_trial",
                     "MEM-CLOUD": "unused"}
    if policy == "cn":
        assert "最近 64 天没有使用记录" in html and "价格由 ¥12.00 调整为 ¥15.00" in html
        form = re.search(r'<form method="post" action="/lines/13800138000/end" class="inline">(?:(?!</form>).)*?'
                         r'value="S-13800138000-MEM-CLOUD"(?:(?!</form>).)*?data-suggested="cancel_renewal"', html, re.S)
        assert form is not None
        r = client.post("/lines/13800138000/end", data={"csrf": csrf_of(html), "kind": "cancel_renewal",
                                                         "subscription_id": "S-13800138000-MEM-CLOUD", "nonce": "sg"})
        assert r.status_code == 200 and re.search(r'data-status="(\w+)"', r.text).group(1) == "completed"
    c.dispose()


def test_two_video_memberships_are_marked_as_duplicates(tmp_path):
    c = demo_container(tmp_path / "d.db")
    client = TestClient(create_app(c))
    page_login(client, "13817659302")
    html = client.get("/lines/13817659302").text
    assert html.count('data-suggestions="duplicate"') == 2
    assert "与 腾讯视频会员 属于同类服务。停用每月约可节省 ¥19.00。" in html
    c.dispose()
