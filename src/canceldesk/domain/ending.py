"""What ending something does to the subscriptions on a line — one function for every caller.

    close_line      every subscription not yet ended ends now
    withdraw        the target ends now (with its refund, settled elsewhere)
    unsubscribe     the target ends now ("immediate" products) or at its period end (ending)
    cancel_renewal  the target stays active to its period end, renewal off

Each change goes through the subscription's named transitions, so an illegal move raises
`IllegalTransition`. Idempotent: a subscription already in the state asked for is left alone, so
the engine may re-run the step after a crash.
"""
from __future__ import annotations

from datetime import datetime

from .access import period_end_access
from .lifecycle import RequestKind
from .model import Product, Subscription, SubscriptionStatus
from .policy import PolicyPack


def end_subscriptions(kind: str, target_id: str | None, subs: list[tuple[Subscription, Product]],
                      now: datetime, pack: PolicyPack) -> list[Subscription]:
    """Apply the ending of a request of `kind` (on subscription `target_id`); returns those changed."""
    kind = RequestKind(kind)
    changed: list[Subscription] = []
    for sub, product in subs:
        if sub.status == SubscriptionStatus.ENDED:
            continue
        if kind == RequestKind.CLOSE_LINE or (kind == RequestKind.WITHDRAW and sub.id == target_id):
            sub.end_now(now)
        elif sub.id != target_id:
            continue
        elif kind == RequestKind.UNSUBSCRIBE:
            if product.unsubscribe_effect == "immediate":
                sub.end_now(now)
            elif sub.status == SubscriptionStatus.ENDING:
                continue
            else:
                sub.end_at_period_end(period_end_access(sub, pack))
        elif kind == RequestKind.CANCEL_RENEWAL:
            if sub.status != SubscriptionStatus.ACTIVE or not sub.auto_renew:
                continue
            sub.stop_renewal(period_end_access(sub, pack))
        else:
            continue
        changed.append(sub)
    return changed
