"""A manager's figures: each over the chosen period against the period before it, and the
renewal compliance proof (every renewal charged was announced the pack's days ahead).

Reasons are a fixed enum (`REASONS`) plus free text: a request's reason is stored as
`"<code>"` or `"<code>: <free text>"`; anything else counts as `other`.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from canceldesk.domain.identifiers import mask_msisdn

from .reports import _require_admin, window

REASONS = ("switching_operator", "not_needed", "too_expensive", "moving_abroad", "service_quality", "other")


def _set_by_a_channel(reason: str) -> bool:
    """"via sms", "assistant": what a channel records when the person gave no reason."""
    r = reason.strip()
    return r == "assistant" or (r.startswith("via ") and ":" not in r and len(r) <= 20)


def reason_code(reason: str | None) -> str | None:
    if not reason or not reason.strip() or _set_by_a_channel(reason):
        return None
    code = reason.split(":", 1)[0].strip()
    return code if code in REASONS else "other"


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[(len(v) - 1) // 2]


def _figures(rows: list[dict]) -> dict:
    completed = [r for r in rows if r["status"] == "completed" and r["completed_at"]]
    seconds = {k: [(r["completed_at"] - r["created_at"]).total_seconds() for r in completed if r["kind"] == k]
               for k in ("unsubscribe", "cancel_renewal", "close_line")}
    refunds = sum(int(((r["impact"] or {}).get("refund") or {}).get("amount") or 0) for r in completed)
    return {"requests": len(rows), "completed": len(completed),
            "completion_rate": round(len(completed) / len(rows), 3) if rows else None,
            "median_seconds_unsubscribe": _median(seconds["unsubscribe"]),
            "median_seconds_cancel_renewal": _median(seconds["cancel_renewal"]),
            "median_seconds_close_line": _median(seconds["close_line"]),
            "refunds_yuan": round(refunds / 100, 2),
            "by_channel": Counter(r["channel"] for r in rows), "by_kind": Counter(r["kind"] for r in rows),
            "by_reason": Counter(code for code in (reason_code(r["reason"]) for r in rows) if code)}


def _delta(cur, prev):
    if cur is None or prev is None:
        return None
    return None if prev == 0 else round((cur - prev) / prev * 100, 1)


def compare(c, principal, days: int = 90) -> dict:
    """Every figure for the last `days` days and for the `days` before, with the change in %."""
    _require_admin(principal)
    start, _ = window(c, days)
    prev_start = start - timedelta(days=days)
    now = c.now()
    with c.uow() as uow:
        cur = _figures(uow.reports.requests_between(start, now + timedelta(seconds=1)))
        prev = _figures(uow.reports.requests_between(prev_start, start))
    figures = []
    for name in ("requests", "completed", "completion_rate", "median_seconds_unsubscribe",
                 "median_seconds_cancel_renewal", "median_seconds_close_line", "refunds_yuan"):
        figures.append({"name": name, "current": cur[name], "previous": prev[name], "change_pct": _delta(cur[name], prev[name])})
    for dim in ("by_channel", "by_kind", "by_reason"):
        keys = sorted(set(cur[dim]) | set(prev[dim]) | (set(REASONS) if dim == "by_reason" else set()))
        for k in keys:
            figures.append({"name": f"{dim[3:]}:{k}", "current": cur[dim].get(k, 0), "previous": prev[dim].get(k, 0),
                            "change_pct": _delta(cur[dim].get(k, 0), prev[dim].get(k, 0))})
    return {"days": days, "from": start.isoformat(), "previous_from": prev_start.isoformat(), "figures": figures}


_NUMBER = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
DETAILS_PER_REASON = 3


def reasons_given(c, principal, days: int = 90) -> dict:
    """The reasons people gave over the last `days` days, as the fixed enum (every code, in order, even
    at 0) with the most frequent free texts of each as detail (numbers in them masked)."""
    _require_admin(principal)
    start, _ = window(c, days)
    with c.uow() as uow:
        rows = uow.reports.requests_between(start, c.now() + timedelta(seconds=1))
    counts: Counter = Counter()
    texts: dict[str, Counter] = {code: Counter() for code in REASONS}
    for row in rows:
        code = reason_code(row["reason"])
        if code is None:
            continue
        counts[code] += 1
        raw = row["reason"].strip()
        head, sep, tail = raw.partition(":")
        free = tail.strip() if sep and head.strip() in REASONS else ("" if raw in REASONS else raw)
        if free:
            texts[code][_NUMBER.sub(lambda m: mask_msisdn(m.group(0)), free)[:80]] += 1
    return {"days": days, "given": sum(counts.values()),
            "reasons": [{"code": code, "count": counts.get(code, 0),
                         "details": [{"text": t, "count": n} for t, n in texts[code].most_common(DETAILS_PER_REASON)]}
                        for code in REASONS]}


def renewal_compliance(c, principal, days: int = 90) -> dict:
    """Per charged renewal: the reminder the pack requires, when it was delivered, how many days ahead."""
    _require_admin(principal)
    start, _ = window(c, days)
    need = c.pack.renewal_reminder_days or (min(c.pack.renewal_reminder_window) if c.pack.renewal_reminder_window else 0)
    tz = ZoneInfo(c.pack.timezone)
    with c.uow() as uow:
        renewals = uow.reports.charged_renewals(start, c.now() + timedelta(seconds=1))
        keys = [f"{r['subscription_id']}:renewal_reminder:{r['period_end'].isoformat()}" for r in renewals]
        reminders = uow.reports.messages_by_key(keys)
    rows = []
    for r, key in zip(renewals, keys):
        rem = reminders.get(key)
        due = datetime.combine(r["period_end"], time(0, 0), tzinfo=tz)
        sent = rem["sent_at"] if rem else None
        ahead = (due.date() - sent.astimezone(tz).date()).days if sent else None
        if rem is None:
            exception = "no_reminder"
        elif sent is None:
            exception = "reminder_not_delivered"
        elif ahead < need:
            exception = "reminder_late"
        else:
            exception = None
        rows.append({"subscription_id": r["subscription_id"], "msisdn": mask_msisdn(r["msisdn"]),
                     "period_end": r["period_end"].isoformat(), "amount_yuan": round(r["amount"] / 100, 2),
                     "charged_at": r["charged_at"].isoformat(), "reminder_sent_at": sent.isoformat() if sent else None,
                     "days_ahead": ahead, "required_days": need, "ok": exception is None, "exception": exception})
    subs = {x["subscription_id"] for x in rows}
    return {"days": days, "required_days": need, "renewals": len(rows), "subscriptions": len(subs),
            "announced_in_time": sum(x["ok"] for x in rows), "exceptions": [x for x in rows if not x["ok"]], "rows": rows}


COMPLIANCE_HEADER = ["subscription_id", "msisdn", "period_end", "amount_yuan", "charged_at", "reminder_sent_at",
                     "days_ahead", "required_days", "ok", "exception"]


def compliance_table(c, principal, days: int) -> tuple[list[str], list[list]]:
    rep = renewal_compliance(c, principal, days)
    return COMPLIANCE_HEADER, [[x[h] if x[h] is not None else "" for h in COMPLIANCE_HEADER] for x in rep["rows"]]


def comparison_table(c, principal, days: int) -> tuple[list[str], list[list]]:
    rep = compare(c, principal, days)
    return ["figure", "current", "previous", "change_pct"], [
        [f["name"], f["current"], f["previous"], f["change_pct"] if f["change_pct"] is not None else ""] for f in rep["figures"]]
