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
from canceldesk.service_layer.errors import Forbidden
from canceldesk.service_layer.principal import Principal
from support import Clock, noon
from web_support import demo_container, staff_login

TODAY = date(2026, 11, 12)
ADMIN = Principal(kind="staff", id="admin", role="admin")


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


def test_reasons_chart_is_the_fixed_enum_with_free_text_as_detail(tmp_path):
    c = demo_container(tmp_path / "r.db", clock=Clock(noon(TODAY)))
    seed_history(c, TODAY)
    admin = TestClient(create_app(c))
    staff_login(admin, "admin", "admin-demo-2026")
    html = admin.get("/dashboard?days=90").text
    chart = re.search(r'<section class="card panel" id="reasons".*?</section>', html, re.S).group(0)
    svg = chart.split("</svg>")[0]
    # one bar per code of the enum, in the enum's order, labelled in zh-CN; no raw "code: free text" labels
    labels = re.findall(r'text-anchor="end" class="chart-text">([^<]+)<', svg)
    assert labels == ["转到其他运营商", "不再需要", "资费太贵", "出国/移居", "对服务不满意", "其他"]
    details = re.search(r'<dl class="reason-details" id="reason-details">(.*?)</dl>', chart, re.S).group(1)
    assert re.findall(r"<dt>([^<]+)</dt>", details) == ["不再需要", "资费太贵", "对服务不满意", "其他"]
    assert "<dd>“很少用” × 28</dd><dd>“试用后不需要” × 19</dd>" in details
    assert "<dd>“换工作了” × 11</dd>" in details
    given = analytics.reasons_given(c, ADMIN, 90)
    assert [r["code"] for r in given["reasons"]] == list(analytics.REASONS)
    assert given["given"] == sum(r["count"] for r in given["reasons"])
    c.dispose()


def test_reasons_a_channel_records_are_not_reasons_given():
    assert analytics.reason_code("via sms") is None and analytics.reason_code("assistant") is None
    assert analytics.reason_code("not_needed: via sms I said") == "not_needed"


def test_reasons_given_need_an_admin(tmp_path):
    import pytest
    c = demo_container(tmp_path / "f.db", clock=Clock(noon(TODAY)))
    with pytest.raises(Forbidden):
        analytics.reasons_given(c, Principal(kind="subscriber", id="C001"), 90)
    c.dispose()
