"""The enterprise console's partner API keys page: an admin lists, creates (the key shown once, with
how to copy it) and revokes the company's keys, in Chinese and in English; another company's admin
cannot touch them and people who are not enterprise admins are sent to the login."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import partner_keys
from web_support import csrf_of, demo_container, page_login, staff_login

from .test_web_enterprise_api import ADMIN, OTHER_ADMIN, _other_company

TMF = "/tmf-api/productOrderingManagement/v4"
KEY = re.compile(r'<input id="key-value" class="secret" value="(cdpk_[0-9a-f]{12}_[A-Za-z0-9_-]{43})" readonly')


@pytest.fixture()
def world(tmp_path):
    c = demo_container(tmp_path / "keys.db")
    _other_company(c)
    yield c
    c.dispose()


def browser(c, msisdn: str | None = None, lang: str | None = None) -> TestClient:
    client = TestClient(create_app(c))
    if lang:
        client.get(f"/lang/{lang}?next=/")
    if msisdn:
        page_login(client, msisdn, area="enterprise")
    return client


def create(client, name: str):
    page = client.get("/enterprise/keys")
    return client.post("/enterprise/keys", data={"csrf": csrf_of(page.text), "name": name})


def test_an_admin_creates_sees_the_key_once_and_revokes_it_in_chinese(world):
    client = browser(world, ADMIN)
    page = client.get("/enterprise/keys")
    assert page.status_code == 200 and "<h1>合作伙伴 API 密钥</h1>" in page.text and "还没有密钥。" in page.text
    r = create(client, "CRM 系统")
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    assert "密钥已创建：CRM 系统" in r.text
    assert "请立即复制此密钥并保存到该系统的密钥库：它只显示这一次。" in r.text
    assert "选中后按 Ctrl+C（Mac 上按 ⌘C）复制。" in r.text
    key = KEY.search(r.text).group(1)
    key_id = key.split("_")[1]
    # the key works on the partner API …
    assert client.get(f"{TMF}/productOrder", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    # … and is never shown again: the list has its name, its beginning, and when it was last used
    listing = client.get("/enterprise/keys").text
    assert key not in listing and key.split("_")[2] not in listing
    row = re.search(rf'<tr id="key-{key_id}">(.*?)</tr>', listing, re.S).group(1)
    assert "<td>CRM 系统</td>" in row and f"<code>cdpk_{key_id}_…</code>" in row
    assert "从未使用" not in row and '<span class="badge">生效中</span>' in row
    # revoke: said at once, and the key is refused from then on
    r = client.post(f"/enterprise/keys/{key_id}/revoke", data={"csrf": csrf_of(listing)})
    assert r.status_code == 200
    assert f"密钥 cdpk_{key_id}_… 已吊销：此后用它的调用一律被拒绝。" in r.text
    row = re.search(rf'<tr id="key-{key_id}">(.*?)</tr>', r.text, re.S).group(1)
    assert "已于 " in row and " 吊销" in row and "<button" not in row
    assert client.get(f"{TMF}/productOrder", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_the_page_in_english(world):
    client = browser(world, ADMIN, lang="en")
    assert "No key yet." in client.get("/enterprise/keys").text
    r = create(client, "Billing")
    assert r.status_code == 201 and "Key created: Billing" in r.text
    assert "Copy this key now and keep it in that system's secret store: it is shown only this once." in r.text
    assert "Select it and press Ctrl+C (⌘C on a Mac)." in r.text and KEY.search(r.text)
    row = re.search(r'<tr id="key-[0-9a-f]{12}">(.*?)</tr>', r.text, re.S).group(1)
    assert "<td>Never</td>" in row and '<span class="badge">Active</span>' in row
    r = create(client, "  ")
    assert r.status_code == 422 and "Name the key (1 to 100 characters), e.g. the system that will use it." in r.text
    assert len(partner_keys.all_keys(world, "E001")) == 1


def test_a_nameless_key_is_refused_in_chinese_and_nothing_is_made(world):
    client = browser(world, ADMIN)
    r = create(client, "")
    assert r.status_code == 422 and "请为密钥命名（1 至 100 个字符），例如将使用它的系统。" in r.text
    assert not KEY.search(r.text) and partner_keys.all_keys(world, "E001") == []


def test_another_companys_admin_can_neither_see_nor_revoke_the_keys(world):
    mine = partner_keys.issue(world, "E001", "CRM", "test")
    client = browser(world, OTHER_ADMIN)
    listing = client.get("/enterprise/keys")
    assert listing.status_code == 200 and mine["id"] not in listing.text and "还没有密钥。" in listing.text
    r = client.post(f"/enterprise/keys/{mine['id']}/revoke", data={"csrf": csrf_of(listing.text)})
    missing = client.post("/enterprise/keys/000000000000/revoke", data={"csrf": csrf_of(listing.text)})
    assert r.status_code == missing.status_code == 404
    assert [k["active"] for k in partner_keys.all_keys(world, "E001")] == [True]
    # a key made here is the other company's own
    theirs = KEY.search(create(client, "ERP").text).group(1)
    assert [k["name"] for k in partner_keys.all_keys(world, "E002")] == ["ERP"]
    assert theirs.split("_")[1] not in browser(world, ADMIN).get("/enterprise/keys").text


def test_people_who_are_not_enterprise_admins_are_sent_to_the_login(world):
    subscriber = browser(world)
    page_login(subscriber, "13800138000")
    agent = browser(world)
    staff_login(agent, "agent", "agent-demo-2026")
    for client in (subscriber, agent, browser(world)):
        for method, url in (("GET", "/enterprise/keys"), ("POST", "/enterprise/keys"),
                            ("POST", "/enterprise/keys/000000000000/revoke")):
            r = client.request(method, url, data={"name": "x"} if method == "POST" else None, follow_redirects=False)
            assert r.status_code in (303, 403), (method, url, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/enterprise/login?next=")
    assert partner_keys.all_keys(world, "E001") == []
