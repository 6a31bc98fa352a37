"""The admin dashboard: volumes, completion times, deadline breaches, reasons, and the renewal
compliance view — each as a chart with its numbers and a CSV export (service_layer/reports.py)."""
from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Request
from fastapi.responses import Response

from canceldesk.service_layer import reports

from . import charts, labels
from .pages import Admin, PageRoute, container, render, tr

router = APIRouter(route_class=PageRoute, include_in_schema=False)
DAY_CHOICES = (7, 30, 90)


def _days(request: Request) -> int:
    try:
        days = int(request.query_params.get("days", 30))
    except ValueError:
        return 30
    return days if 1 <= days <= 366 else 30


@router.get("/dashboard")
def dashboard(request: Request, p: Admin):
    c = container(request)
    _ = tr(request)
    days = _days(request)
    vol = reports.volumes(c, p, days)
    comp = reports.completion_times(c, p, days)
    br = reports.deadline_breaches(c, p, days, limit=10)
    why = reports.top_reasons(c, p, days)
    ren = reports.reminders_vs_renewals(c, p, days)
    from canceldesk.service_layer import insights
    offers = insights.offer_counts(c, reports.window(c, days)[0])
    from canceldesk.service_layer import analytics
    cmp = analytics.compare(c, p, days)
    proof = analytics.renewal_compliance(c, p, days)
    def shown(names: dict, code: str) -> str:
        return _(names[code]) if code in names else code

    def kind(code: str) -> str:
        return shown(labels.KINDS, code)
    ch = {
        "by_day": charts.columns([(d["day"], d["count"]) for d in vol["by_day"]], _("Requests per day")),
        "by_kind": charts.hbars([(kind(k["kind"]), [k["count"]]) for k in vol["by_kind"]], _("Requests by kind")),
        "by_channel": charts.hbars([(shown(labels.CHANNELS, x["channel"]), [x["count"]])
                                    for x in vol["by_channel"]], _("Requests by channel")),
        "completion": charts.hbars([(kind(t["kind"]), [t["p50_minutes"], t["p90_minutes"], t["p99_minutes"]])
                                    for t in comp], _("Minutes to completion"), series=["p50", "p90", "p99"]),
        "breaches": charts.hbars([(kind(k["kind"]), [k["count"]]) for k in br["by_kind"]], _("Deadline breaches by kind")),
        "reasons": charts.hbars([(shown(labels.REASONS, x["reason"]), [x["count"]]) for x in why["reasons"]],
                                _("Reasons given")),
        "codes": charts.hbars([(shown(labels.REJECT_CODES, x["code"]), [x["count"]]) for x in why["reject_codes"]],
                              _("Why requests were refused")),
        "renewals": charts.columns([(d["day"], d["reminders_sent"]) for d in ren["by_day"]],
                                   _("Renewal reminders sent per day"),
                                   series_b=[d["renewals_charged"] for d in ren["by_day"]]
                                   if ren["renewals_recorded"] else None),
    }
    return render(request, "dashboard/index.html", days=days, day_choices=DAY_CHOICES, vol=vol, comp=comp, br=br,
                  why=why, ren=ren, charts=ch, offers=offers, cmp=cmp, proof=proof)


def _cell(value):
    """Free text (a reason someone typed) must not run as a formula when the CSV opens in a spreadsheet."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.get("/dashboard/compliance.pdf")
def compliance_pdf(request: Request, p: Admin):
    """The renewal compliance report: per renewal charged, the reminder the pack requires; exceptions listed."""
    from datetime import timezone

    from canceldesk.adapters.compliance_pdf import compliance_pdf as render_pdf
    from canceldesk.service_layer import analytics
    c = container(request)
    days = _days(request)
    pdf = render_pdf(analytics.renewal_compliance(c, p, days), c.pack.name,
                     c.now().astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="canceldesk-compliance-{days}d.pdf"',
                             "Cache-Control": "no-store"})


@router.get("/dashboard/{name}.csv")
def dashboard_csv(name: str, request: Request, p: Admin):
    header, rows = reports.table(container(request), p, name, _days(request))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows([[_cell(v) for v in row] for row in rows])
    return Response(out.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="canceldesk-{name}-{_days(request)}d.csv"',
                             "Cache-Control": "no-store"})
