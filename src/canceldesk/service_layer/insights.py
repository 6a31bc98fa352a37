"""Suggestions on a line (what could be stopped, and why) and the save-offer bookkeeping.

The facts come from the line's subscriptions and the usage facts the import brought
(`subscription.usage`); the rules are in domain/suggestions.py.
"""
from __future__ import annotations

from canceldesk.adapters import insights_store as store
from canceldesk.domain.prechecks import local_today
from canceldesk.domain.suggestions import Facts, suggest

DEFAULT_UNUSED_DAYS = 30


def unused_days(c) -> int:
    return int(getattr(c.pack, "suggest_unused_days", None) or DEFAULT_UNUSED_DAYS)


def suggestions_for(c, uow, subs_with_products, lang: str = "zh") -> dict[str, list[dict]]:
    """subscription id → its suggestions (active subscriptions only)."""
    active = [(s, p) for s, p in subs_with_products if s.is_active]
    usage = store.usage_of(uow.session, [s.id for s, _ in active])
    facts = []
    for s, p in active:
        u = usage.get(s.id, {})
        facts.append(Facts(subscription_id=s.id, msisdn=s.msisdn, product_kind=p.kind, name_zh=p.name_zh,
                           name_en=p.name_en, price=p.price, period=p.period, auto_renew=s.auto_renew,
                           period_end=s.period_end, partner=p.partner, last_used_on=u.get("last_used_on"),
                           previous_price=u.get("previous_price"), price_changed_on=u.get("price_changed_on"),
                           trial_ended_on=u.get("trial_ended_on")))
    out: dict[str, list[dict]] = {}
    for sg in suggest(facts, local_today(c.now(), c.pack), unused_days(c), lang):
        out.setdefault(sg.subscription_id, []).append(
            {"reason": sg.reason, "text": sg.text, "saving_per_month": sg.saving_per_month, "action": sg.action,
             "details": sg.details})
    return out
