"""Reports for the admin dashboard (and its CSV exports): read-only queries over requests,
their deadlines and the outbox. Days are calendar days in the policy pack's time zone."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from canceldesk.domain.lifecycle import OPEN, RequestKind

from .errors import Forbidden, InvalidInput
from .principal import Principal, may


def _require_admin(principal: Principal) -> None:
    if not may(principal, "admin"):
        raise Forbidden("the dashboard needs an admin login")


def window(c, days: object) -> tuple[datetime, list[date]]:
    """The start of the window (UTC) and its calendar days in the pack's time zone, oldest first."""
    try:
        n = int(days)
    except (TypeError, ValueError):
        raise InvalidInput("days must be a whole number", {"field": "days"}) from None
    if not 1 <= n <= 366:
        raise InvalidInput("days must be between 1 and 366", {"field": "days"})
    tz = ZoneInfo(c.pack.timezone)
    today = c.now().astimezone(tz).date()
    first = today - timedelta(days=n - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    return start, [first + timedelta(days=i) for i in range(n)]


def volumes(c, principal: Principal, days: int = 30) -> dict:
    """Requests created per kind, per channel and per day."""
    _require_admin(principal)
    start, day_list = window(c, days)
    tz = ZoneInfo(c.pack.timezone)
    with c.uow() as uow:
        by_kind = uow.reports.request_counts("kind", start)
        by_channel = uow.reports.request_counts("channel", start)
        per_day = Counter(at.astimezone(tz).date() for at in uow.reports.request_created_times(start))
    kinds = [k.value for k in RequestKind]
    return {"by_kind": [{"kind": k, "count": by_kind.get(k, 0)} for k in kinds],
            "by_channel": [{"channel": ch, "count": n} for ch, n in sorted(by_channel.items(), key=lambda x: -x[1])],
            "by_day": [{"day": d.isoformat(), "count": per_day.get(d, 0)} for d in day_list],
            "total": sum(by_kind.values())}


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None for an empty one)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def completion_times(c, principal: Principal, days: int = 30) -> list[dict]:
    """Minutes from submission to completion, per kind: count, p50, p90, p99."""
    _require_admin(principal)
    start, _ = window(c, days)
    per_kind: dict[str, list[float]] = {k.value: [] for k in RequestKind}
    with c.uow() as uow:
        for kind, created, completed in uow.reports.completions(start):
            per_kind.setdefault(kind, []).append((completed - created).total_seconds() / 60)
    out = []
    for kind, values in per_kind.items():
        values.sort()
        out.append({"kind": kind, "count": len(values),
                    **{f"p{p}_minutes": (round(v, 1) if v is not None else None)
                       for p in (50, 90, 99) for v in [percentile(values, p)]}})
    return out


def deadline_breaches(c, principal: Principal, days: int = 30, limit: int = 50) -> dict:
    """Requests that finished after their promised time, or are still open past it."""
    _require_admin(principal)
    start, _ = window(c, days)
    now = c.now()
    with c.uow() as uow:
        rows = uow.reports.late_requests(start, now, [str(s) for s in OPEN])
    breaches = []
    for row in rows:
        end = row["completed_at"] or now
        breaches.append({**row, "late_minutes": round((end - row["deadline_at"]).total_seconds() / 60, 1),
                         "still_open": row["completed_at"] is None})
    breaches.sort(key=lambda b: -b["late_minutes"])
    by_kind = Counter(b["kind"] for b in breaches)
    return {"count": len(breaches), "by_kind": [{"kind": k.value, "count": by_kind.get(k.value, 0)} for k in RequestKind],
            "worst": breaches[:limit]}


def top_reasons(c, principal: Principal, days: int = 30, limit: int = 10) -> dict:
    """Why people end things (the reason they gave) and why requests were refused (reject codes)."""
    _require_admin(principal)
    start, _ = window(c, days)
    reasons: Counter = Counter()
    codes: Counter = Counter()
    with c.uow() as uow:
        for reason, reject_codes in uow.reports.reasons_and_codes(start):
            if reason and reason.strip():
                reasons[reason.strip()[:80]] += 1
            for code in reject_codes or []:
                codes[code] += 1
    return {"reasons": [{"reason": k, "count": n} for k, n in reasons.most_common(limit)],
            "reject_codes": [{"code": k, "count": n} for k, n in codes.most_common(limit)]}


def reminders_vs_renewals(c, principal: Principal, days: int = 30) -> dict:
    """The compliance view: renewal reminders sent (outbox) against renewals charged (the renewal
    runner's `renewals` table, status `charged`). Without that table: "not yet recorded" (None)."""
    _require_admin(principal)
    start, day_list = window(c, days)
    tz = ZoneInfo(c.pack.timezone)
    with c.uow() as uow:
        sent = uow.reports.delivered_at("renewal_reminder", start)
        charged = uow.reports.renewals_charged_at(start)
    recorded = True  # the renewal runner records every charge (renewals.py)
    reminders = Counter(at.astimezone(tz).date() for at in sent)
    renewed = Counter(at.astimezone(tz).date() for at in charged)
    return {"reminders_sent": sum(reminders.values()),
            "renewals_charged": sum(renewed.values()) if recorded else None,
            "renewals_recorded": recorded,
            "by_day": [{"day": d.isoformat(), "reminders_sent": reminders.get(d, 0),
                        "renewals_charged": renewed.get(d, 0) if recorded else None} for d in day_list]}


def refused_lookups(c, principal: Principal, days: int = 30) -> list[dict]:
    """Staff accounts whose pre-checks or customer look-ups were refused for bulk probing
    (audit event `staff_lookup_refused`, see staffscope): most refusals first."""
    _require_admin(principal)
    start, _days = window(c, days)
    with c.uow() as uow:
        rows = uow.reports.audit_counts_by_actor("staff_lookup_refused", start)
    return [{"actor": actor, "refusals": n, "latest": latest.isoformat() if latest else None}
            for actor, n, latest in rows]


def table(c, principal: Principal, name: str, days: int = 30) -> tuple[list[str], list[list]]:
    """A report as a header and rows (the CSV exports)."""
    if name in ("compliance", "comparison"):
        from . import analytics
        return (analytics.compliance_table if name == "compliance" else analytics.comparison_table)(c, principal, days)
    if name == "volumes":
        v = volumes(c, principal, days)
        rows = [["day", d["day"], d["count"]] for d in v["by_day"]]
        rows += [["kind", k["kind"], k["count"]] for k in v["by_kind"]]
        rows += [["channel", ch["channel"], ch["count"]] for ch in v["by_channel"]]
        return ["dimension", "value", "requests"], rows
    if name == "completion":
        rows = [[t["kind"], t["count"], t["p50_minutes"], t["p90_minutes"], t["p99_minutes"]]
                for t in completion_times(c, principal, days)]
        return ["kind", "completed", "p50_minutes", "p90_minutes", "p99_minutes"], rows
    if name == "breaches":
        b = deadline_breaches(c, principal, days, limit=10_000)
        rows = [[x["tracking_no"], x["kind"], x["status"], x["channel"], x["created_at"].isoformat(),
                 x["deadline_at"].isoformat(), x["completed_at"].isoformat() if x["completed_at"] else "",
                 x["late_minutes"]] for x in b["worst"]]
        return ["tracking_no", "kind", "status", "channel", "created_at", "deadline_at", "completed_at",
                "late_minutes"], rows
    if name == "reasons":
        t = top_reasons(c, principal, days, limit=100)
        rows = [["reason", x["reason"], x["count"]] for x in t["reasons"]]
        rows += [["reject_code", x["code"], x["count"]] for x in t["reject_codes"]]
        return ["type", "value", "count"], rows
    if name == "renewals":
        rv = reminders_vs_renewals(c, principal, days)
        rows = [[d["day"], d["reminders_sent"], "" if d["renewals_charged"] is None else d["renewals_charged"]]
                for d in rv["by_day"]]
        return ["day", "reminders_sent", "renewals_charged"], rows
    raise InvalidInput("unknown report", {"field": "name"})


REPORTS = ("volumes", "completion", "breaches", "reasons", "renewals")
