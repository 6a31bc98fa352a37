"""The renewal compliance report as a PDF: the summary, every exception, then every renewal charged."""
from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from .pdf import _font

COLUMNS = [("subscription_id", 62), ("msisdn", 28), ("period_end", 24), ("amount_yuan", 18), ("reminder_sent_at", 50),
           ("days_ahead", 16), ("exception", 40)]


def compliance_pdf(report: dict, pack_name: str, generated_at: str) -> bytes:
    font = _font()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=landscape(A4))
    pdf.setTitle("canceldesk renewal compliance report")
    width, height = landscape(A4)
    y = height - 18 * mm

    def line(text: str, size: float = 9, x: float = 15 * mm) -> None:
        nonlocal y
        if y < 15 * mm:
            pdf.showPage()
            y = height - 15 * mm
        pdf.setFont(font, size)
        pdf.drawString(x, y, text)
        y -= size * 0.5 * mm + 2 * mm

    line("续费提醒合规报告 / Renewal reminder compliance report", 14)
    line(f"{pack_name} · 最近 {report['days']} 天 / last {report['days']} days · 生成于 / generated {generated_at}")
    line(f"规则 / rule: 每次自动续费扣款前至少 {report['required_days']} 天提醒 / every renewal charged is announced "
         f"at least {report['required_days']} days ahead")
    line(f"订阅 / subscriptions: {report['subscriptions']} · 扣款续费 / renewals charged: {report['renewals']} · "
         f"按时提醒 / announced in time: {report['announced_in_time']} · 例外 / exceptions: {len(report['exceptions'])}", 11)
    for title, rows in (("例外 / Exceptions", report["exceptions"]), ("全部续费 / Every renewal charged", report["rows"])):
        y -= 3 * mm
        line(title, 12)
        x = 15 * mm
        for name, w in COLUMNS:
            pdf.setFont(font, 8)
            pdf.drawString(x, y, name)
            x += w * mm
        y -= 5 * mm
        if not rows:
            line("—")
        for r in rows:
            x = 15 * mm
            if y < 15 * mm:
                pdf.showPage()
                y = height - 15 * mm
            for name, w in COLUMNS:
                pdf.setFont(font, 8)
                value = r.get(name)
                pdf.drawString(x, y, "" if value is None else str(value)[:40])
                x += w * mm
            y -= 4.5 * mm
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
