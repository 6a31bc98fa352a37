"""Receipt PDF (ReportLab), in the reader's language, with a QR code to the public check.

The font is embedded (WenQuanYi Micro Hei, a TrueType font shipped in the pinned wheel
`paperang-p2-fonts-cjk`): the PDF reads the same on any device, Latin letters included, and its
text can be extracted. Times are the pack's local time; amounts are right-aligned in one column.
The subscriber's copy has no ledger; the auditor's copy adds it, with the account names.
"""
from __future__ import annotations

import io
from importlib import resources

import qrcode
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from canceldesk.domain import localtime
from canceldesk.domain.identifiers import mask_msisdn
from canceldesk.domain.money import format_money

_FONT = "WenQuanYiMicroHei"
_registered = False

KIND = {"close_line": ("销户", "Line closure"), "unsubscribe": ("业务退订", "Unsubscribe"),
        "cancel_renewal": ("取消自动续费", "Auto-renewal stopped"), "withdraw": ("合同撤回", "Withdrawal"),
        "reclaim": ("号码找回", "Number reclaimed")}
WORDS = {
    "title": ("业务办理凭证", "Receipt"), "auditor": ("（审计联）", "(auditor's copy)"),
    "operator": ("办理单位", "Issued by"), "tracking": ("单号", "Tracking no."), "number": ("号码", "Number"),
    "requested": ("申请时间", "Requested at"), "completed": ("办结时间", "Completed at"),
    "code": ("验证码", "Verification code"), "ended": ("已终止", "What ended"),
    "refund": ("退款", "Refund"), "refund_to": ("退款去向", "Refund goes to"),
    "original": ("原路退回（原付款方式）", "the original payment method"),
    "other_number": ("转入其他号码", "another number"), "no_refund": ("无退款", "no refund"),
    "gift": ("赠送余额不退", "Gifted credit not refunded"), "frozen": ("号码冻结至", "Number frozen until"),
    "ledger": ("账务分录", "Ledger"), "scan": ("扫码验证", "Scan to verify"), "tz": ("时区", "Time zone"),
    "line": ("号码 {msisdn}", "the number {msisdn}"), "auto_renewal": ("{name} 的自动续费", "auto-renewal of {name}"),
    "freeze": ("号码 {msisdn} 的冻结", "the freeze on {msisdn}"),
}


def _font() -> str:
    global _registered
    if not _registered:
        path = resources.files("paperang_p2_fonts_cjk").joinpath("fonts", "wqy-microhei.ttc")
        pdfmetrics.registerFont(TTFont(_FONT, str(path), subfontIndex=0))
        _registered = True
    return _FONT


def _ended(end: dict, en: bool) -> str:
    """What ended, in words; a number is always masked (the header masks it too)."""
    what = end.get("what")
    name = (end.get("name_en") if en else end.get("name_zh")) or end.get("name") or end.get("product") or ""
    masked = mask_msisdn(str(end.get("msisdn", ""))) if end.get("msisdn") else ""
    if what in ("line", "freeze"):
        return WORDS[what][1 if en else 0].format(msisdn=masked)
    if what == "auto_renewal":
        return WORDS["auto_renewal"][1 if en else 0].format(name=name)
    return name


def receipt_pdf(data: dict, verify_url: str, lang: str = "zh", copy: str = "subscriber") -> bytes:
    font = _font()
    en = lang.startswith("en")
    w = {k: v[1 if en else 0] for k, v in WORDS.items()}
    tz = data.get("timezone") or "Asia/Shanghai"
    currency = (data.get("refund") or {}).get("currency", "CNY")

    def money(amount) -> str:
        return format_money(int(amount or 0), currency, lang)

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setTitle(f"canceldesk receipt {data['tracking_no']}")
    width, height = A4
    left, amount_right = 20 * mm, 150 * mm
    y = height - 25 * mm

    def row(label: str, value: str = "", size: int = 11, gap: float = 7, amount: str | None = None) -> None:
        nonlocal y
        pdf.setFont(font, size)
        pdf.drawString(left, y, f"{label}: {value}" if value else label)
        if amount is not None:
            pdf.drawRightString(amount_right, y, amount)
        y -= gap * mm

    kind = KIND.get(data["kind"], (data["kind"], data["kind"]))[1 if en else 0]
    row(f"{w['title']} — {kind}" + (f" {w['auditor']}" if copy == "auditor" else ""), size=16, gap=11)
    row(w["operator"], str(data.get("operator") or "canceldesk"))
    row(w["tracking"], data["tracking_no"])
    row(w["number"], data.get("msisdn_masked", ""))
    row(w["requested"], localtime.shown(data.get("requested_at"), tz))
    row(w["completed"], localtime.shown(data.get("completed_at"), tz))
    row(w["tz"], tz, size=9, gap=6)
    row(w["code"], data["verification_code"])
    y -= 2 * mm
    row(w["ended"], size=11, gap=6)
    for end in data.get("ends", []):
        row(f"  • {_ended(end, en)}", size=10, gap=5.5)
    y -= 2 * mm
    refund = data.get("refund") or {}
    row(w["refund"], amount=money(refund.get("amount", 0)))
    for r in refund.get("lines", []):
        label = (r.get("label_en") if en else r.get("label_zh")) or r.get("label", "")
        row(f"    {label}", size=9, gap=5, amount=money(r.get("amount", 0)))
    if int(refund.get("amount", 0) or 0) > 0:
        row(w["refund_to"], w["other_number"] if data.get("refund_method") == "other_number" else w["original"], size=10, gap=6)
    else:
        row(w["refund_to"], w["no_refund"], size=10, gap=6)
    if data.get("gift_forfeited"):
        row(w["gift"], size=10, gap=6, amount=money(data["gift_forfeited"]))
    if data.get("frozen_until"):
        row(w["frozen"], localtime.shown(data["frozen_until"], tz, with_time=False), size=10, gap=6)
    if copy == "auditor":
        y -= 3 * mm
        row(w["ledger"], size=11, gap=6)
        for e in data.get("ledger", []):
            row(f"    {e['settlement']}  {e['account']}", size=8, gap=4.5, amount=money(e["amount"]))
    qr = qrcode.make(verify_url, box_size=4, border=1)
    img = io.BytesIO()
    qr.save(img, format="PNG")
    img.seek(0)
    pdf.drawImage(ImageReader(img), width - 55 * mm, height - 60 * mm, 35 * mm, 35 * mm)
    pdf.setFont(font, 8)
    pdf.drawString(width - 55 * mm, height - 64 * mm, w["scan"])
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
