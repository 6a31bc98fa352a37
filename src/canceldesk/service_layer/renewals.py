"""Scheduled duties of auto-renewal (自动续费): reminders ahead of each renewal, and the renewal
runs that charge at period end — so `cancel_renewal` has a real effect.

- `send_reminders(c, now)`: the pack's reminder (CN: 5 days ahead) for each auto-renewing
  subscription, once per period (outbox dedup key per subscription and period end).
- `run_renewals(c, now)`: at `period_end` 00:00 (pack time zone) a subscription renews: charged
  once (payments keyed by subscription and period, own ledger summing to zero), its period
  advanced. One whose renewal was cancelled (auto_renew off) or unsubscribed (ending) ends there.
  "No reminder delivered in time, no charge": the renewal is postponed (`renewal_postponed`) and
  the subscriber reminded again; it is charged once a reminder has been out the pack's days.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from canceldesk.domain.errors import PermanentError, TransientError
from canceldesk.domain.model import Subscription, SubscriptionStatus
from canceldesk.domain.access import local_today, period_end_access
from canceldesk.domain.money import format_money
from canceldesk.domain.renewal import add_period, earliest_charge, reminder_rule

from .notifications import notify

log = logging.getLogger("canceldesk.renewals")
CONFIRMED = ("in_review", "executing", "failed")  # a cancellation the subscriber has confirmed
BATCH = 500


def _first_key(sub: Subscription) -> str:
    return f"{sub.id}:renewal_reminder:{sub.period_end.isoformat()}"


def _again_key(sub: Subscription) -> str:
    return f"{sub.id}:renewal_reminder:{sub.period_end.isoformat()}:again"


def _max_send_days(pack) -> int | None:
    if pack.renewal_reminder_window:
        return max(pack.renewal_reminder_window)
    return pack.renewal_reminder_days


def send_reminders(c, now) -> dict:
    """Remind each auto-renewing subscription inside the pack's window, once per period."""
    horizon = _max_send_days(c.pack)
    if not horizon:
        return {"reminded": 0}
    today = local_today(now, c.pack)
    reminded, last_id = 0, ""
    while True:
        with c.uow() as uow:
            rows = uow.renewals.to_remind(today, today + timedelta(days=horizon), last_id, BATCH)
            if not rows:
                break
            for sub, product in rows:
                last_id = sub.id
                rule = reminder_rule(c.pack, sub.days_in_cycle)
                if rule is None or (sub.period_end - today).days > rule.send_days:
                    continue
                if sub.last_reminder_for == sub.period_end:
                    continue
                _remind(c, uow, sub, product, now, "renewal_reminder", _first_key(sub), sub.period_end)
                sub.last_reminder_for = sub.period_end
                reminded += 1
            uow.commit()
    return {"reminded": reminded}


def _remind(c, uow, sub, product, now, event, key, on_date) -> None:
    notify(uow.repo, to=sub.msisdn, event=event, ref=None, at=now, dedup=key, lang=c.pack.locale,
           name=product.name(c.pack.locale), date=on_date.isoformat(), amount=format_money(product.price, product.currency, c.pack.locale),
           serial=product.code)


def run_renewals(c, now, limit: int = 5000) -> dict:
    """Renew, postpone or end every subscription whose period has ended."""
    today = local_today(now, c.pack)
    with c.uow() as uow:
        due = uow.renewals.period_ended([SubscriptionStatus.ACTIVE, SubscriptionStatus.ENDING], today, limit)
    outcomes: Counter = Counter()
    for sub_id in due:
        try:
            outcomes[renew_one(c, sub_id, now)] += 1
        except Exception:  # noqa: BLE001 - one bad subscription never stops the run; it is retried next run
            log.exception("renewal of %s failed; retried on the next run", sub_id)
            outcomes["error"] += 1
    return dict(outcomes)


def _held_by_cancellation(uow, sub: Subscription) -> bool:
    """A confirmed cancellation covering this subscription is under way: it must stop this renewal."""
    targets = [f"sub:{sub.id}", f"line:{sub.msisdn}"]
    return uow.renewals.request_open_on(targets, CONFIRMED)


def _delivered_reminders(uow, sub: Subscription) -> list:
    return uow.renewals.sent_at([_first_key(sub), _again_key(sub)])


def renew_one(c, sub_id: str, now) -> str:
    """One subscription at its period end: 'ended', 'held', 'postponed', 'charged', 'retry', 'declined'."""
    pack, today = c.pack, local_today(now, c.pack)
    with c.uow() as uow:
        sub = uow.renewals.subscription_for_update(sub_id)
        if sub is None or sub.status == SubscriptionStatus.ENDED or sub.period_end > today:
            return "skipped"
        product, line = uow.repo.product(sub.product_code), uow.repo.line(sub.msisdn)
        due_at = period_end_access(sub, pack)
        if sub.status == SubscriptionStatus.ENDING or not sub.auto_renew or line is None or not line.is_active:
            sub.lapse(due_at)
            uow.commit()
            return "ended"
        if _held_by_cancellation(uow, sub):
            return "held"
        rule = reminder_rule(pack, sub.days_in_cycle)
        charge_at = earliest_charge(due_at, rule, pack.no_reminder_no_charge, _delivered_reminders(uow, sub))
        if charge_at is None or charge_at > now:
            if not sub.renewal_postponed:
                sub.renewal_postponed = True
                on = (charge_at or now + timedelta(days=rule.min_days)).astimezone(ZoneInfo(pack.timezone)).date()
                _remind(c, uow, sub, product, now, "renewal_postponed", _again_key(sub), on)
                sub.last_reminder_for = sub.period_end
                uow.commit()
            return "postponed"
        key = f"{sub.id}:{sub.period_end.isoformat()}"
        row = uow.renewals.renewal(key)
        if row is None:
            uow.renewals.add_renewal(
                key=key, subscription_id=sub.id, msisdn=sub.msisdn, period_end=sub.period_end, amount=product.price,
                currency=product.currency, status="pending", attempts=0, created_at=now)
        elif row["status"] != "pending":
            return "skipped"
        uow.renewals.count_attempt(key)
        uow.commit()  # the renewal is recorded before the money moves
        amount, currency, msisdn = product.price, product.currency, sub.msisdn
        new_start = sub.period_end if charge_at == due_at else today
    try:
        ref = c.payments.charge(key=f"renewal:{key}", msisdn=msisdn, amount=amount, currency=currency, method="original")
    except TransientError as exc:
        _note_error(c, key, str(exc))
        return "retry"
    except PermanentError as exc:
        return _declined(c, sub_id, key, str(exc), now)
    return _charged(c, sub_id, key, ref, new_start, now)


def _note_error(c, key: str, error: str) -> None:
    with c.uow() as uow:
        uow.renewals.update_renewal(key, error=error[:500])
        uow.commit()


def _charged(c, sub_id: str, key: str, ref: str, new_start, now) -> str:
    with c.uow() as uow:
        sub = uow.renewals.subscription_for_update(sub_id)
        row = uow.renewals.renewal(key)
        if sub is None or row is None or row["status"] != "pending":
            return "skipped"
        product = uow.repo.product(sub.product_code)
        old_end, new_end = sub.period_end, add_period(new_start, product.period)
        uow.renewals.update_renewal(key, status="charged", payment_ref=ref, charged_at=now, error=None,
                                    new_period_start=new_start, new_period_end=new_end)
        uow.renewals.add_ledger([
            {"renewal_key": key, "account": "customer:payment_method", "amount": -row["amount"],
             "currency": row["currency"], "memo": "renewal charged to the original payment method", "at": now},
            {"renewal_key": key, "account": "revenue:subscriptions", "amount": row["amount"],
             "currency": row["currency"], "memo": f"{product.code} renewed", "at": now}])
        sub.period_start, sub.period_end = new_start, new_end
        sub.renewal_postponed, sub.access_ends_at = False, None
        notify(uow.repo, to=sub.msisdn, event="renewed", ref=None, at=now, dedup=f"{sub.id}:renewed:{old_end.isoformat()}",
               lang=c.pack.locale, name=product.name(c.pack.locale), amount=format_money(row["amount"], product.currency, c.pack.locale),
               date=(new_end - timedelta(days=1)).isoformat())
        uow.commit()
        return "charged"


def _declined(c, sub_id: str, key: str, error: str, now) -> str:
    """The payment method refused: no charge, the subscription ends at its period end."""
    with c.uow() as uow:
        sub = uow.renewals.subscription_for_update(sub_id)
        uow.renewals.update_renewal(key, status="declined", error=error[:500])
        if sub is not None and sub.status != SubscriptionStatus.ENDED:
            sub.lapse(period_end_access(sub, c.pack))
        uow.commit()
    return "declined"

