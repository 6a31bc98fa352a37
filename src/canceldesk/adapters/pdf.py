"""Receipt PDF (ReportLab, its built-in CJK font STSong-Light), with a QR code to the public check."""
from __future__ import annotations

import io

import qrcode
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

_FONT = "STSong-Light"
_registered = False

KIND = {"close_line": ("销户", "Line closure"), "unsubscribe": ("业务退订", "Unsubscribe"),
        "cancel_renewal": ("取消自动续费", "Auto-renewal cancelled"), "withdraw": ("合同撤回", "Withdrawal"),
        "reclaim": ("号码找回", "Number reclaimed")}


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(_FONT))
        _registered = True
    return _FONT


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def receipt_pdf(data: dict, verify_url: str, lang: str = "zh") -> bytes:
    font = _font()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setTitle(f"canceldesk receipt {data['tracking_no']}")
    width, height = A4
    y = height - 25 * mm
    zh, en = KIND.get(data["kind"], (data["kind"], data["kind"]))

    def line(text: str, size: int = 11, gap: float = 7) -> None:
        nonlocal y
        pdf.setFont(font, size)
        pdf.drawString(20 * mm, y, text)
        y -= gap * mm

    line(f"业务办理凭证 Receipt — {zh} / {en}", 16, 11)
    line(f"单号 Tracking no.: {data['tracking_no']}")
    line(f"号码 Number: {data.get('msisdn_masked', '')}")
    line(f"办结时间 Completed at: {data.get('completed_at', '')}")
    line(f"验证码 Verification code: {data['verification_code']}")
    for end in data.get("ends", []):
        what = end.get("name") or end.get("msisdn") or end.get("id") or ""
        line(f"终止 Ended: {end.get('what')} {what}", 10, 6)
    refund = data.get("refund", {})
    line(f"退款 Refund: {_yuan(int(refund.get('amount', 0)))} {refund.get('currency', 'CNY')}", 11, 7)
    for r in refund.get("lines", []):
        line(f"    {r.get('label')}: {_yuan(int(r.get('amount', 0)))}", 9, 5)
    if data.get("gift_forfeited"):
        line(f"赠送余额不退 Gifted credit forfeited: {_yuan(int(data['gift_forfeited']))}", 10, 6)
    if data.get("frozen_until"):
        line(f"号码冻结至 Number frozen until: {data['frozen_until'][:10]}", 10, 6)
    y -= 3 * mm
    line("账务分录 Ledger", 11, 6)
    for e in data.get("ledger", []):
        line(f"    {e['settlement']:<15} {e['account']:<28} {_yuan(int(e['amount'])):>12}  {e['memo']}", 8, 4.5)
    qr = qrcode.make(verify_url, box_size=4, border=1)
    img = io.BytesIO()
    qr.save(img, format="PNG")
    img.seek(0)
    pdf.drawImage(ImageReader(img), width - 55 * mm, height - 60 * mm, 35 * mm, 35 * mm)
    pdf.setFont(font, 8)
    pdf.drawString(width - 60 * mm, height - 64 * mm, "扫码验证 Scan to verify")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
