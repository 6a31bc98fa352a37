"""The manager's dashboard over 90 days of seeded history: each figure against the previous period,
reasons as a fixed enum, and the renewal compliance report (CSV and PDF) listing its exception."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

from fastapi.testclient import TestClient
from pypdf import PdfReader

from canceldesk.demo.history import seed_history
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import analytics
from support import Clock, noon
from web_support import demo_container, staff_login

TODAY = date(2026, 11, 12)


def test_dashboard_compares_periods_and_proves_renewal_reminders(tmp_path):
    c = demo_container(tmp_path / "a.db", clock=Clock(noon(TODAY)))
    assert seed_history(c, TODAY) == {"requests": 1184, "renewals": 23, "reminders": 23}
    admin = TestClient(create_app(c))
    staff_login(admin, "admin", "admin-demo-2026")
    html = admin.get("/dashboard?days=90").text
    row = re.search(r'data-figure="requests"><td>requests</td><td class="num">(\d+)</td><td class="num">(\d+)</td>'
                    r'<td class="num">([^<]+)</td>', html)
    assert row.groups() == ("666", "514", "+29.6")
    for channel in ("sms", "ivr", "assistant", "counter"):
        assert f'data-figure="channel:{channel}"' in html
    assert {f'data-figure="reason:{r}"' for r in analytics.REASONS} <= set(re.findall(r'data-figure="reason:\w+"', html))
    assert re.search(r'id="compliance-summary">已扣款续费：23 · 按时提醒：22 · 例外：1<', html)

    got = admin.get("/dashboard/compliance.csv?days=90")
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert len(rows) == 23 and sum(r["ok"] == "True" for r in rows) == 22
    [late] = [r for r in rows if r["ok"] == "False"]
    assert (late["exception"], late["days_ahead"], late["required_days"], late["msisdn"]) == ("reminder_late", "2", "5", "136****1789")
    assert all(re.fullmatch(r"1\d\d\*{4}\d{4}", r["msisdn"]) for r in rows)   # numbers masked

    pdf = admin.get("/dashboard/compliance.pdf?days=90")
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "reminder_late" in text and "S-13655321789-MEM-MUSIC" in text

    cmp = admin.get("/dashboard/comparison.csv?days=90").content.decode("utf-8-sig")
    assert "refunds_yuan,4358.24,4627.6,-5.8" in cmp
    c.dispose()


def test_reason_codes_are_a_fixed_enum_with_free_text():
    assert analytics.reason_code("too_expensive: 涨价了") == "too_expensive"
    assert analytics.reason_code("because I said so") == "other"
    assert analytics.reason_code("  ") is None
