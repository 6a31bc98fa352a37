"""Logs never carry an OTP, a token, a full phone or ID number, or a password: the redactor, and a
scan of everything logged (down to DEBUG, SQL parameters included) across a whole journey."""
from __future__ import annotations

import logging
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from canceldesk.adapters.logredact import RedactingFilter, RedactingFormatter, redact
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import auth
from secworld import STAFF_PASSWORD, STORE_1, bearer, otp_from_outbox
from support import PERSON_ID, Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)


@pytest.mark.parametrize("text, must_not_contain, shown", [
    ("login by 13800138000", "13800138000", "138****8000"),
    ("typed +86 138-0013-8000", "0013", "138****8000"),
    ("id 11010519491231002X ok", "11010519491231002X", "110************02X"),
    ("id 11010519491231002x ok", "19491231", "110************02x"),
    ("Authorization: Bearer abcDEF0123456789abcDEF0123456789abcDEF01234", "abcDEF0123456789", "Authorization: ***"),
    ("sent Bearer abcDEF0123456789abcDEF0123456789abcDEF01234", "abcDEF0123456789", "Bearer ***"),
    ("token=abcDEF0123456789abcDEF0123456789abcDEF01234", "abcDEF0123456789", "token=***"),
    ('{"otp": "482913", "msisdn": "13900139000"}', "482913", '"otp": "***"'),
    ("service_password=135790", "135790", "service_password=***"),
    ("【canceldesk】验证码 482913，5分钟内有效", "482913", "验证码 ******"),
    ("password: hunter2hunter2", "hunter2", "password: ***"),
])
def test_the_redactor(text, must_not_contain, shown):
    out = redact(text)
    assert must_not_contain not in out and shown in out, out


def test_what_must_stay_readable_stays_readable():
    for keep in ("request CD20261112ABCDEF01 is executing", "at 2026-11-12T12:00:00.123456+00:00",
                 "id 3f2a1b9c-1234-4cde-8f00-123456789abc", "refund 5313 fen", "retry in 1.5s"):
        assert redact(keep) == keep


def test_filter_and_formatter_for_handlers_configured_elsewhere():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "number %s code %s", ("13800138000", "123456"), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "number 138****8000 code ******"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id %s", (PERSON_ID,), None)
    record._canceldesk_redacted = True  # pretend the factory missed it
    assert PERSON_ID not in RedactingFormatter().format(record)


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        self.lines.append(self.format(record))


def test_a_full_journey_logs_no_otp_token_number_id_or_password(tmp_path, caplog):
    clock = Clock(noon(TODAY))
    c = make_container(f"sqlite:///{tmp_path}/logs.db", clock=clock)
    seed(c, TODAY)
    auth.create_staff_user(c, "agent1", STAFF_PASSWORD, "agent", "王柜员", store=STORE_1)
    client = TestClient(create_app(c), raise_server_exceptions=False)
    collect = Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    caplog.set_level(logging.DEBUG)  # everything …
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # … SQL statements and their parameters included
    secrets: set[str] = {"13800138000", PERSON_ID, "135790", STAFF_PASSWORD}
    try:
        assert client.post("/v1/auth/otp", json={"msisdn": "+86 138 0013 8000"}).status_code == 202
        code = otp_from_outbox(client, "13800138000")
        client.post("/v1/auth/token", json={"msisdn": "13800138000", "otp": f"{(int(code) + 1) % 10**6:06d}"})
        login = client.post("/v1/auth/token", json={"msisdn": "13800138000", "otp": code}).json()
        secrets |= {code, login["token"]}
        h = bearer(login["token"])
        body = {"kind": "close_line", "msisdn": "13800138000", "acknowledged_warnings": ["GIFT_BALANCE_FORFEIT"]}
        pre = client.post("/v1/prechecks", json={"kind": "close_line", "msisdn": "13800138000"}, headers=h)
        assert pre.json().get("eligible") is True, pre.text
        no = client.post("/v1/requests", json=body, headers={**h, "Idempotency-Key": "journey-1"}).json()["tracking_no"]
        assert client.post(f"/v1/requests/{no}/confirm", json={"verification": {"service_password": "000000"}},
                           headers=h).status_code == 403
        done = client.post(f"/v1/requests/{no}/confirm", json={"verification": {"service_password": "135790"}}, headers=h)
        assert done.json()["status"] == "completed", done.text
        receipt = client.get(f"/v1/requests/{no}/receipt", headers={**h, "Accept": "application/json"}).json()
        assert client.get(f"/v1/requests/{no}/receipt", headers=h).status_code == 200  # the PDF too
        assert client.get(f"/v1/receipts/verify/{receipt['verification_code']}").json()["genuine"] is True
        staff = client.post("/v1/auth/staff", json={"username": "agent1", "password": STAFF_PASSWORD}).json()
        secrets.add(staff["token"])
        client.post("/v1/staff/customers/search", json={"id_document": {"type": "cn_ric", "number": PERSON_ID}},
                    headers=bearer(staff["token"]))
        client.post("/v1/auth/logout", headers=h)
        # an error path: whatever an exception says about the subscriber is redacted in the traceback
        try:
            raise RuntimeError(f"provisioning refused 13800138000 for {PERSON_ID} with token {login['token']}")
        except RuntimeError:
            logging.getLogger("canceldesk.executor").exception("step failed for 13800138000")
        logging.getLogger("canceldesk.test").info("%s asked with code %s", "13800138000", code)
    finally:
        root.removeHandler(collect)
    captured = "\n".join(collect.lines) + "\n" + caplog.text
    assert "sqlalchemy.engine" in captured and "138****8000" in captured, "the scan must see what was logged"
    assert "Traceback" in captured and "RuntimeError" in captured
    found = {s for s in secrets if s in captured}
    assert not found, f"found in the logs: {found}"
    assert not re.search(r"(?<![\d.:*-])\d{6}(?![\d*])", "\n".join(collect.lines)), "an OTP-looking number was logged"
    c.dispose()
