"""90 days (and the 90 before, for comparison) of believable activity for the demo dashboard.

Deterministic (seeded). Requests of every kind from every channel (app, SMS, IVR, counter,
assistant, enterprise) on made-up numbers of past customers (`HIST-…`, never a demo login), with
reasons from the fixed enum plus free text, refunds in fen and completion times in seconds for
the quick kinds and minutes for closures; renewals charged on the demo's memberships, each with
the reminder the pack requires sent ahead — and one sent late, so the compliance report has an
exception to list.
"""
from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from canceldesk.adapters import orm

KINDS = [("unsubscribe", 45), ("cancel_renewal", 35), ("close_line", 17), ("reclaim", 3)]
CHANNELS = [("app", 38), ("sms", 20), ("ivr", 10), ("counter", 14), ("assistant", 12), ("enterprise", 6)]
REASONS = [("not_needed", 34), ("too_expensive", 26), ("switching_operator", 16), ("service_quality", 12),
           ("moving_abroad", 5), ("other", 7)]
FREE_TEXT = {"too_expensive": ["每月扣费太多", "涨价了"], "not_needed": ["很少用", "试用后不需要"],
             "service_quality": ["信号不好", "客服不回复"], "other": ["换工作了"]}


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def seed_history(c, today: date, days: int = 90, seed: int = 12) -> dict:
    """Insert the history; returns how many requests, renewals and reminders were written."""
    rng = random.Random(seed)
    tz = ZoneInfo(c.pack.timezone)
    rows = []
    for back in range(1, 2 * days + 1):
        day = today - timedelta(days=back)
        growth = 1.0 if back <= days else 0.8  # a little busier this period than the last
        for _ in range(int(rng.randint(4, 11) * growth)):
            kind = _pick(rng, KINDS)
            channel = "counter" if kind == "reclaim" else _pick(rng, CHANNELS)
            created = datetime.combine(day, time(rng.randint(8, 21), rng.randint(0, 59)), tzinfo=tz)
            status = rng.choices(["completed", "rejected", "withdrawn"], weights=[88, 8, 4])[0]
            seconds = (rng.randint(60, 3600) if kind in ("close_line", "reclaim") else rng.randint(2, 45))
            reason = None
            if kind != "reclaim" and rng.random() < 0.8:
                code = _pick(rng, REASONS)
                text = rng.choice(FREE_TEXT.get(code, [""])) if rng.random() < 0.3 else ""
                reason = f"{code}: {text}" if text else code
            refund = rng.randint(0, 9000) if kind == "close_line" else (rng.choice([0, 0, 0, 350, 820]) if kind == "unsubscribe" else 0)
            n = len(rows)
            rows.append({"id": str(uuid.UUID(int=rng.getrandbits(128))), "tracking_no": f"CD{day:%Y%m%d}H{n:05d}",
                         "kind": kind, "msisdn": f"1370{n % 10_000_000:07d}", "customer_id": f"HIST-{n % 400:04d}",
                         "subscription_id": None if kind in ("close_line", "reclaim") else f"HIST-SUB-{n}",
                         "channel": channel, "requested_by": f"history:{channel}", "status": status, "reason": reason,
                         "impact": {"refund": {"amount": refund, "currency": "CNY", "lines": []}},
                         "acknowledged_warnings": [], "reject_codes": ["ARREARS"] if status == "rejected" else [],
                         "created_at": created, "updated_at": created,
                         "deadline_at": created + timedelta(minutes=60 if kind in ("unsubscribe", "cancel_renewal") else 1440),
                         "completed_at": created + timedelta(seconds=seconds) if status == "completed" else None})
    renewals, reminders = _renewals(c, today, days, tz)
    with c.engine.begin() as conn:
        conn.execute(insert(orm.requests), rows)
        if renewals:
            conn.execute(insert(orm.renewals), renewals)
        if reminders:
            conn.execute(insert(orm.outbox), reminders)
    return {"requests": len(rows), "renewals": len(renewals), "reminders": len(reminders)}


def _renewals(c, today: date, days: int, tz) -> tuple[list[dict], list[dict]]:
    """Monthly renewals of the demo's auto-renewing memberships over the window, each announced ahead."""
    need = c.pack.renewal_reminder_days or 5
    with c.engine.connect() as conn:
        subs = conn.execute(select(orm.subscriptions.c.id, orm.subscriptions.c.msisdn, orm.products.c.price,
                                   orm.subscriptions.c.period_start)
                            .join(orm.products, orm.products.c.code == orm.subscriptions.c.product_code)
                            .where(orm.products.c.kind == "membership", orm.products.c.period == "month",
                                   orm.subscriptions.c.auto_renew.is_(True))).all()
    renewals, reminders = [], []
    late_done = False
    for sub_id, msisdn, price, period_start in sorted(subs):
        renewed_on = period_start
        while (today - renewed_on).days <= days:
            if renewed_on < today:
                charged = datetime.combine(renewed_on, time(0, 5), tzinfo=tz)
                ahead = need
                if not late_done and (today - renewed_on).days > 30:
                    ahead, late_done = 2, True  # one reminder went out late: the report must show it
                sent = datetime.combine(renewed_on - timedelta(days=ahead), time(10, 0), tzinfo=tz)
                renewals.append({"key": f"{sub_id}:{renewed_on.isoformat()}", "subscription_id": sub_id, "msisdn": msisdn,
                                 "period_end": renewed_on, "new_period_start": renewed_on, "new_period_end": None,
                                 "amount": price, "currency": "CNY", "status": "charged", "attempts": 1,
                                 "payment_ref": f"HIST-{sub_id}-{renewed_on:%Y%m%d}"[:64], "error": None,
                                 "created_at": charged, "charged_at": charged})
                reminders.append({"dedup_key": f"{sub_id}:renewal_reminder:{renewed_on.isoformat()}", "channel": "sms",
                                  "to": msisdn, "event": "renewal_reminder", "ref": None, "attempts": 1,
                                  "text": f"【续费提醒】您的会员将于 {renewed_on} 自动续费。", "created_at": sent, "sent_at": sent})
            renewed_on = _month_before(renewed_on)
    return renewals, reminders


def _month_before(d: date) -> date:
    from .data import add_months
    return add_months(d, -1)
