"""When access ends: one home for the rule the pre-check, the engine, the pages and the API share.

Access "to the end of the period" stops at 00:00 of `period_end` in the pack's time zone
(`period_end_access`). What a subscriber is shown (`access_end`) is the end recorded when the
subscription was ended or its renewal stopped; else the period end when it will not renew; else
nothing (it renews).
"""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from .model import Subscription
from .policy import PolicyPack


def local_today(now: datetime, pack: PolicyPack) -> date:
    return now.astimezone(ZoneInfo(pack.timezone)).date()


def midnight(d: date, pack: PolicyPack) -> datetime:
    """`d` 00:00 in the pack's time zone: when access 'to the end of the period' stops."""
    return datetime.combine(d, time(0, 0), tzinfo=ZoneInfo(pack.timezone))


def period_end_access(sub: Subscription, pack: PolicyPack) -> datetime:
    """When access stops if the subscription runs to the end of its current cycle."""
    return midnight(sub.period_end, pack)


def access_end(sub: Subscription, pack: PolicyPack) -> datetime | None:
    """When access ends as things stand (None: it renews and runs on)."""
    if sub.access_ends_at is not None:
        return sub.access_ends_at
    return None if sub.auto_renew else period_end_access(sub, pack)
