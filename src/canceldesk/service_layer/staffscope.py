"""Staff see what their role needs, and every look is audited (issue 8).

* Every staff pre-check and customer look-up writes an audit row — hits and misses
  (`staff_precheck`, `customer_lookup`, `customer_viewed`, each with `found`) — and counts against a per-account budget (`CANCELDESK_STAFF_LOOKUP_LIMIT` per
  `…_WINDOW_SECONDS`); past it the look-up is refused (429 `STAFF_RATE_LIMITED`), the refusal is
  audited (`staff_lookup_refused`) and the dashboard lists it (reports.refused_lookups).
* A store-bound agent sees a customer's lines and requests only after verifying them in person
  (a matching ID check in the last `VERIFIED_FOR`); back office (admin) sees every customer.
* Without the person's document a staff pre-check says only NOT_OWNER: no arrears, contract or
  balance of an arbitrary number leaks to a counter that has nobody in front of it.
* Searching customers by ID document spends the same per-agent ID-check budget as in-person
  checks (auth.count_id_check) and pauses the same way, so ID numbers cannot be recovered by trial.
"""
from __future__ import annotations

from datetime import timedelta

from canceldesk.domain.errors import RateLimited
from canceldesk.domain.prechecks import Finding, PrecheckResult
from canceldesk.domain.messages import render

from . import audit
from .errors import TooManyRequests
from .principal import Principal, may

VERIFIED_FOR = timedelta(minutes=15)


def is_staff(principal: Principal) -> bool:
    return may(principal, "staff_pages")


def spend(c, principal: Principal, what: str) -> None:
    """One look-up of this staff account's budget; past it: refused, audited, on the dashboard."""
    if not is_staff(principal) or c.staff_limiter is None:
        return
    try:
        c.staff_limiter.hit(principal.actor)
    except RateLimited as exc:  # the limiter (an adapter) raises its own error; this layer answers 429
        audit.record_now(c, actor=principal.actor, event="staff_lookup_refused", subject=None, details={"what": what})
        raise TooManyRequests("too many look-ups from this staff account in a short time; serve the customer in "
                              "front of you, then try again", {"retry_after_seconds": exc.retry_after},
                              code="STAFF_RATE_LIMITED") from None


def looked_up(uow, c, principal: Principal, event: str, subject: str | None, found: bool, **details) -> None:
    """The audit row of one look-up (in the caller's transaction); never a full number or ID."""
    if is_staff(principal):
        audit.record(uow, at=c.now(), actor=principal.actor, event=event, subject=subject,
                     details={"found": bool(found), **details})


def looked_up_now(c, principal: Principal, event: str, subject: str | None, found: bool, **details) -> None:
    if is_staff(principal):
        with c.uow() as uow:
            looked_up(uow, c, principal, event, subject, found, **details)
            uow.commit()


def remember_verified(uow, principal: Principal, customer_id: str, now) -> None:
    """The staff member matched this customer's document in person (counter check or request)."""
    uow.accounts.remember_verified(principal.actor, customer_id, now)


def sees_customer(uow, principal: Principal, customer_id: str, now) -> bool:
    """Back office sees every customer; an agent only those verified in person in the last 15 minutes."""
    if may(principal, "any_customer"):
        return True
    at = uow.accounts.verified_at(principal.actor, customer_id)
    return at is not None and at > now - VERIFIED_FOR


def not_owner_only(result: PrecheckResult, lang: str) -> PrecheckResult:
    """A staff pre-check without the person's matching document: NOT_OWNER and nothing else."""
    msg, res = render("NOT_OWNER", lang)
    currency = result.impact.get("refund", {}).get("currency", "CNY")
    impact = {"ends": [], "access_ends_at": None, "billing_ends_at": None,
              "refund": {"amount": 0, "currency": currency, "lines": []}, "fees": []}
    return PrecheckResult(False, [Finding("NOT_OWNER", msg, res)], [], impact, None)


def sees_every_store(principal: Principal) -> bool:
    return may(principal, "review")


def own_store(principal: Principal) -> str | None:
    """The store whose requests this principal sees (Principal.acted_at_own_store): None for every
    store, "" for none (staff bound to no store)."""
    return None if sees_every_store(principal) else (principal.store or "")
