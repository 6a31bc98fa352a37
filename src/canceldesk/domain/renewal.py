"""Auto-renewal (自动续费) rules: when a renewal is due, when the subscriber must be reminded, and
when a charge is allowed at all.

CN (SAMR 网络交易监督管理办法 Art. 18): remind 5 days before each auto-renewal; a renewal whose
reminder was not delivered in time is not charged — it is postponed until a reminder has been
delivered the pack's number of days ahead. US-CA: a reminder 15–45 days ahead for terms of a year
or more. EU pack: no reminder rule, renewals charge at period end.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .policy import PolicyPack

PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
PERIOD_DAYS = {"day": 1, "week": 7}


def add_period(start: date, period: str) -> date:
    """The end of one cycle starting at `start` (month ends clamp: Jan 31 + 1 month = Feb 28/29)."""
    if period in PERIOD_DAYS:
        return start + timedelta(days=PERIOD_DAYS[period])
    months = PERIOD_MONTHS.get(period, 1)
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ReminderRule:
    send_days: int      # remind this many days before the renewal (at the latest in the window)
    min_days: int       # a reminder counts only if delivered at least this many days ahead


def reminder_rule(pack: PolicyPack, days_in_cycle: int) -> ReminderRule | None:
    """What this pack asks before renewing a cycle of this length; None: no reminder needed."""
    if days_in_cycle < pack.renewal_reminder_min_term_days:
        return None
    if pack.renewal_reminder_window:
        low, high = pack.renewal_reminder_window
        return ReminderRule(send_days=high, min_days=low)
    if pack.renewal_reminder_days:
        return ReminderRule(send_days=pack.renewal_reminder_days, min_days=pack.renewal_reminder_days)
    return None


def earliest_charge(due_at: datetime, rule: ReminderRule | None, no_reminder_no_charge: bool,
                    delivered_at: list[datetime]) -> datetime | None:
    """When the renewal may be charged: at `due_at` (period end 00:00 local) if no reminder is
    required or one was delivered `min_days` ahead; later if the first reminder delivered in time
    came late; None while no reminder has been delivered at all (no reminder, no charge)."""
    if rule is None or not no_reminder_no_charge:
        return due_at
    if not delivered_at:
        return None
    return max(due_at, min(delivered_at) + timedelta(days=rule.min_days))
