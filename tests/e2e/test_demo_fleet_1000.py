"""The demo's 1,000-line fleet and the CSV the README points to (docs/demo/fleet-1000.csv): the file
is the one the demo module makes, every row validates clean against the demo data, and an admin of
the logistics company uploads it in the console and gets a batch of 1,000 pre-checked lines."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from canceldesk.demo.fleet import (CSV_PATH, FLEET_ADMIN, FLEET_BLOCKED, FLEET_LINES, build_fleet_document, csv_text,
                                   fleet_msisdn)
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import auth, fleet_upload, importer
from web_support import csrf_of, demo_container, page_login

FILE = Path(__file__).resolve().parents[2] / CSV_PATH


@pytest.fixture(scope="module")
def c(tmp_path_factory):
    c = demo_container(tmp_path_factory.mktemp("fleet1000") / "demo.db")
    doc = build_fleet_document(c.now().date())
    report = importer.import_bytes(c, json.dumps(doc, ensure_ascii=False).encode(), "application/json")
    assert report["lines"]["created"] == FLEET_LINES, report
    yield c
    c.dispose()


def test_the_file_is_the_demo_modules_1000_numbers():
    text = FILE.read_text(encoding="utf-8")
    assert text == csv_text()
    rows = text.splitlines()
    assert rows[0] == "号码" and len(rows) == 1001 and rows[1:] == [fleet_msisdn(i) for i in range(1, 1001)]


def test_every_row_validates_clean_against_the_demo_data(c):
    auth.send_otp(c, FLEET_ADMIN["msisdn"])
    client = TestClient(create_app(c))
    code = re.search(r"\b(\d{6})\b", [m for m in client.get("/dev/outbox", params={"to": FLEET_ADMIN["msisdn"]})
                                      .json()["messages"] if m["event"] == "otp"][-1]["text"]).group(1)
    token = auth.exchange_otp(c, FLEET_ADMIN["msisdn"], code, as_role="enterprise_admin")["token"]
    admin = auth.authenticate(c, token)
    assert admin.enterprise_id == "E100"
    numbers, errors = fleet_upload.parse(c, admin, FILE.read_bytes())
    assert errors == [] and numbers == [fleet_msisdn(i) for i in range(1, 1001)]


def test_the_admin_uploads_it_in_the_console_and_1000_lines_are_prechecked(c):
    client = TestClient(create_app(c))
    page_login(client, FLEET_ADMIN["msisdn"], area="enterprise")
    page = client.get("/enterprise")
    assert "<small>1000</small>" in page.text
    r = client.post("/enterprise/uploads", data={"csrf": csrf_of(page.text)},
                    files={"file": ("fleet-1000.csv", FILE.read_bytes(), "text/csv")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    batch_id = r.headers["location"].rsplit("/", 1)[1]
    st = client.get(f"/v1/enterprise/batches/{batch_id}").json()
    assert (st["phase"], st["size"], st["eligible"], st["blocked"]) == ("prechecked", 1000, 997, 3)
    blocked = client.get(f"/v1/enterprise/batches/{batch_id}/results", params={"show": "blocked"}).json()
    assert sorted(i["msisdn"] for i in blocked["rows"]) == [fleet_msisdn(i) for i in FLEET_BLOCKED]
