"""Suggestions on a line (what could be stopped, and why) and the save-offer bookkeeping.

The facts come from the line's subscriptions and the usage facts the import brought
(`subscription.usage`); the rules are in domain/suggestions.py.
"""
from __future__ import annotations

from canceldesk.domain.prechecks import local_today
from canceldesk.domain.suggestions import Facts, suggest

DEFAULT_UNUSED_DAYS = 30


def unused_days(c) -> int:
    return int(c.pack.suggest_unused_days or DEFAULT_UNUSED_DAYS)


def suggestions_for(c, uow, subs_with_products, lang: str = "zh") -> dict[str, list[dict]]:
    """subscription id → its suggestions (active subscriptions only)."""
    active = [(s, p) for s, p in subs_with_products if s.is_active]
    usage = uow.insights.usage_of([s.id for s, _ in active])
    facts = []
    for s, p in active:
        u = usage.get(s.id, {})
        facts.append(Facts(subscription_id=s.id, msisdn=s.msisdn, product_kind=p.kind, name_zh=p.name_zh,
                           name_en=p.name_en, price=p.price, period=p.period, auto_renew=s.auto_renew,
                           period_end=s.period_end, partner=p.partner, last_used_on=u.get("last_used_on"),
                           previous_price=u.get("previous_price"), price_changed_on=u.get("price_changed_on"),
                           trial_ended_on=u.get("trial_ended_on"), currency=p.currency))
    out: dict[str, list[dict]] = {}
    for sg in suggest(facts, local_today(c.now(), c.pack), unused_days(c), lang):
        out.setdefault(sg.subscription_id, []).append(
            {"reason": sg.reason, "text": sg.text, "saving_per_month": sg.saving_per_month, "action": sg.action,
             "details": sg.details})
    return out


# ---- save offers: at most one per request, beside the cancel button, never in the way --------------
def offer_settings(c) -> dict | None:
    s = c.pack.save_offer or {}
    return s if s.get("allowed") else None


def offers_for_line(c, uow, principal, subs_with_products, lang: str = "zh") -> dict[str, dict]:
    """subscription id → the one open save offer to show beside its cancel button (none once decided).

    Called while rendering the subscriber's own line page: the offer made is recorded once."""
    settings = offer_settings(c)
    if settings is None or not principal.is_subscriber:
        return {}
    import uuid
    out: dict[str, dict] = {}
    now = c.now()
    for s, p in subs_with_products:
        if not (s.is_active and s.auto_renew and p.kind in settings.get("kinds", ("membership",))):
            continue
        made = uow.insights.offers_for(principal.id, s.id)
        if any(o["status"] != "offered" for o in made):
            continue  # decided once: never offered again
        offer = made[0] if made else None
        if offer is None:
            offer = {"id": str(uuid.uuid4()), "customer_id": principal.id, "subscription_id": s.id,
                     "kind": "cancel_renewal", "offer": str(settings.get("code", "SAVE"))[:40], "status": "offered",
                     "created_at": now, "decided_at": None}
            uow.insights.add_offer(**offer)
        out[s.id] = {"id": offer["id"], "text": settings.get("text_en" if lang == "en" else "text_zh", "")}
    return out


def decide_offer(c, principal, offer_id: str, accept: bool) -> dict:
    """One click: accept or decline. Someone else's offer is answered like a missing one (404)."""
    from .errors import NotFound
    with c.uow() as uow:
        offer = uow.insights.offer(str(offer_id)[:36])
        if offer is None or not principal.is_subscriber or offer["customer_id"] != principal.id:
            raise NotFound("no such offer")
        uow.insights.decide_offer(offer["id"], "accepted" if accept else "declined", c.now())
        uow.commit()
        with c.uow() as again:
            return again.insights.offer(offer["id"])


def offer_counts(c, since=None) -> dict[str, int]:
    with c.uow() as uow:
        return uow.insights.offer_counts(since)
