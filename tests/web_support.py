"""The web tests' world: a fresh SQLite database with the demo data (demo/data.py, loaded through
the importer like `make demo`) and the demo staff users; helpers to log in through the pages."""
from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from canceldesk.bootstrap import load_policy
from canceldesk.demo.data import build_demo_document
from canceldesk.demo.load import STAFF
from canceldesk.service_layer import auth, importer
from support import make_container

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def demo_container(db_path, clock=None, policy: str = "cn", **settings):
    c = make_container(f"sqlite:///{db_path}", clock=clock, policy=policy, **settings)
    tz = ZoneInfo(load_policy(policy).timezone)
    today = (clock() if clock else datetime.now(tz)).astimezone(tz).date()
    importer.import_bytes(c, json.dumps(build_demo_document(today), ensure_ascii=False).encode(), "application/json")
    for s in STAFF:
        auth.create_staff_user(c, s["username"], s["password"], s["role"], s["name"], s["store"])
    return c


@pytest.fixture()
def demo(tmp_path):
    """A fresh demo world for one test (import it into a test module to use it)."""
    c = demo_container(tmp_path / "demo.db")
    yield c
    c.dispose()


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def otp_from_outbox(client, msisdn: str) -> str:
    msgs = client.get("/dev/outbox", params={"to": msisdn}).json()["messages"]
    return re.search(r"\b(\d{6})\b", [m for m in msgs if m["event"] == "otp"][-1]["text"]).group(1)


def page_login(client, msisdn: str, area: str = "portal") -> None:
    """Log in through the pages (form posts with their CSRF tokens), leaving the session cookie."""
    start = client.get("/enterprise/login" if area == "enterprise" else "/")
    r = client.post("/login/otp", data={"csrf": csrf_of(start.text), "msisdn": msisdn, "area": area})  # delivered at once in tests
    assert r.status_code == 200, r.text
    r = client.post("/login/verify", data={"csrf": csrf_of(r.text), "msisdn": msisdn, "area": area,
                                           "otp": otp_from_outbox(client, msisdn)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    client.cookies.set("cd_session", r.cookies["cd_session"])


def staff_login(client, username: str, password: str) -> None:
    start = client.get("/staff/login")
    r = client.post("/staff/login", data={"csrf": csrf_of(start.text), "username": username, "password": password},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    client.cookies.set("cd_session", r.cookies["cd_session"])
