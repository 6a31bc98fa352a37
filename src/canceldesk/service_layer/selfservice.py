"""Self-service reading and one-step ending (portal, counter, enterprise batches).

What each product on a line costs, when it renews, and what ending it would mean — worked out by
the same pre-check every channel uses (`requests.precheck`), so a page never computes a rule.
"""
from __future__ import annotations

from canceldesk.domain.access import access_end
from canceldesk.domain.lifecycle import Request, Status
from canceldesk.domain.model import LineStatus

from . import requests
from .principal import Principal

# Which ways of ending a product the self-service pages offer. A plan ends with the line itself.
ENDINGS = {"plan": (), "vas": ("unsubscribe",), "membership": ("cancel_renewal", "unsubscribe")}
KIND_ORDER = {"plan": 0, "vas": 1, "membership": 2}


def line_public(uow, line) -> dict:
    return {"msisdn": line.msisdn, "status": line.status, "primary_msisdn": line.primary_msisdn,
            "is_primary_of_shared_plan": bool(uow.repo.active_secondaries(line.msisdn)),
            "cash_balance": line.cash_balance, "gift_balance": line.gift_balance, "arrears": line.arrears,
            "currency": line.currency, "frozen_until": line.frozen_until}


def my_lines(c, principal: Principal) -> list[dict]:
    """Every line under my real-name identity (一证通查), plus closed ones I may still reclaim."""
    with c.uow() as uow:
        lines = {l.msisdn: l for l in uow.repo.lines_of(principal.id)}
        for l in uow.repo.lines_reclaimable_by(principal.id):
            lines.setdefault(l.msisdn, l)
        return [line_public(uow, l) for l in sorted(lines.values(), key=lambda x: x.msisdn)]


def line_history(c, principal: Principal, msisdn: str) -> list[dict]:
    """A line's status changes, oldest first (404 for a line the caller may not see).

    Staff see every entry and who made it. The owner (or their enterprise admin) sees the entries
    of their time with the number — a number that went back to the pool starts afresh for its next
    owner, and a former owner sees up to its return to the pool — with the role that made each
    change, and the tracking number only of their own requests.
    """
    number = requests.parse_msisdn(msisdn)
    with c.uow() as uow:
        line = requests.visible_line(uow, principal, number)
        rows = uow.repo.line_history(number)
    if principal.role in requests.STAFF_ROLES:
        return [{**e.as_dict(), "tracking_no": no} for e, no, _owner in rows]
    me = principal.enterprise_id if principal.role == "enterprise_admin" else principal.id
    rows = _ownership_period(rows, former=line.customer_id != me or line.status == LineStatus.RECYCLABLE)
    return [{**e.as_dict(with_actor=False), "request_id": e.request_id if owner == me else None,
             "tracking_no": no if owner == me else None} for e, no, owner in rows]


def _ownership_period(rows: list, former: bool) -> list:
    """Split at each return to the pool: the current owner gets the period since the last one, a
    former owner (or the owner of a number now in the pool) the period that ended with it."""
    periods: list[list] = [[]]
    for row in rows:
        periods[-1].append(row)
        if row[0].to_status == LineStatus.RECYCLABLE:
            periods.append([])
    if former:
        ended = [p for p in periods if p and p[-1][0].to_status == LineStatus.RECYCLABLE]
        return ended[-1] if ended else periods[-1]
    return periods[-1]


def my_requests(c, principal: Principal, limit: int = 20) -> list[Request]:
    if not principal.is_subscriber:
        return []
    with c.uow() as uow:
        return uow.repo.requests_of(principal.id, limit=limit)


def _subscription_public(c, sub, product, lang: str) -> dict:
    renews_on = sub.period_end if (sub.is_active and sub.auto_renew) else None
    access = access_end(sub, c.pack)
    return {"id": sub.id, "product": product.code, "kind": product.kind, "name": product.name(lang),
            "price": product.price, "currency": product.currency, "period": product.period,
            "period_start": sub.period_start, "period_end": sub.period_end, "auto_renew": sub.auto_renew,
            "status": sub.status, "renews_on": renews_on, "access_ends_at": access,
            "unsubscribe_effect": product.unsubscribe_effect, "refund": product.refund, "partner": product.partner}


def line_summary(c, principal: Principal, msisdn: str) -> dict:
    """One of my lines (404 if it is not mine), without its products."""
    with c.uow() as uow:
        return line_public(uow, requests.visible_line(uow, principal, requests.parse_msisdn(msisdn)))


def line_overview(c, principal: Principal, msisdn: str, lang: str = "zh",
                  in_person_document: dict | None = None) -> dict:
    """A line, its products and, per product, the ways to end it with their pre-checked effect."""
    number = requests.parse_msisdn(msisdn)
    with c.uow() as uow:
        line = requests.visible_line(uow, principal, number)
        public = line_public(uow, line)
        subs = sorted(uow.repo.subscriptions_with_products(number),
                      key=lambda sp: (KIND_ORDER.get(sp[1].kind, 9), not sp[0].is_active, sp[1].code))
        open_requests = uow.repo.open_requests_on_line(number)
        from .insights import offers_for_line, suggestions_for
        suggestions = suggestions_for(c, uow, subs, lang) if line.is_active else {}
        offers = offers_for_line(c, uow, principal, subs, lang) if line.is_active else {}
        if offers:
            uow.commit()
    products = []
    for sub, product in subs:
        row = _subscription_public(c, sub, product, lang)
        row["endings"] = {}
        row["suggestions"] = suggestions.get(sub.id, [])
        row["save_offer"] = offers.get(sub.id)
        if sub.is_active and line.is_active:
            kinds = [k for k in ENDINGS.get(product.kind, ()) if k != "cancel_renewal" or sub.auto_renew]
            if c.pack.offers_withdrawal and product.kind != "plan":
                kinds.append("withdraw")
            for kind in kinds:
                result = requests.precheck(c, principal, kind, number, sub.id, lang, in_person_document)
                if kind == "withdraw" and not result.eligible:
                    continue  # outside the window: the page simply does not offer it
                row["endings"][kind] = result.as_dict()
        products.append(row)
    return {"line": public, "products": products, "open_requests": open_requests}


def end_in_one_step(c, principal: Principal, cmd: requests.NewRequest, verification: dict | None = None) -> Request:
    """Create the request and confirm it at once: the caller has already shown the effect.

    A request that needs something more (a second factor the caller did not give) stays
    `awaiting_confirmation`, and the error is raised for the caller to ask for it.
    """
    req, _created = requests.create_request(c, principal, cmd)
    if req.status == Status.AWAITING_CONFIRMATION:
        req = requests.confirm(c, principal, req.tracking_no, verification, cmd.lang)
    return req


def request_detail(c, principal: Principal, tracking_no: str) -> dict:
    """A request with its execution plan: every step of the kind, done or not yet."""
    from canceldesk.domain.execution import plan_for
    with c.uow() as uow:
        req = requests.owned_request(uow, principal, tracking_no)
        steps = uow.repo.steps(req.id)
        receipt = uow.repo.receipt(req.id)
    plan = []
    for step in plan_for(req.kind):
        rec = steps.get(str(step))
        plan.append({"step": str(step), "status": rec.status if rec else "pending",
                     "attempts": rec.attempts if rec else 0, "error": rec.error if rec else None,
                     "finished_at": rec.finished_at if rec else None})
    return {"request": req, "steps": plan, "verification_code": receipt["verification_code"] if receipt else None,
            "can_withdraw": req.can_withdraw, "needs_confirmation": req.status == Status.AWAITING_CONFIRMATION,
            "step_up_factors": c.pack.step_up_factors(req.kind) if principal.is_subscriber else ()}
