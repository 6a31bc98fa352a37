from __future__ import annotations

from fastapi import APIRouter

from canceldesk.domain.access import access_end
from canceldesk.service_layer import selfservice
from canceldesk.service_layer.requests import parse_msisdn, visible_line

from ..deps import ContainerDep, CurrentPrincipal, CurrentSubscriber, Lang

router = APIRouter(prefix="/v1/lines", tags=["lines"])


@router.get("", summary="My lines (all under my real-name identity)")
def my_lines(p: CurrentSubscriber, c: ContainerDep):
    with c.uow() as uow:
        lines = {l.msisdn: l for l in uow.repo.lines_of(p.id)}
        for l in uow.repo.lines_reclaimable_by(p.id):
            lines.setdefault(l.msisdn, l)
        return {"lines": [{"msisdn": l.msisdn, "status": l.status, "is_primary_of_shared_plan": bool(uow.repo.active_secondaries(l.msisdn)),
                           "primary_msisdn": l.primary_msisdn, "cash_balance": l.cash_balance, "gift_balance": l.gift_balance,
                           "arrears": l.arrears, "frozen_until": l.frozen_until.isoformat() if l.frozen_until else None,
                           "currency": l.currency} for l in sorted(lines.values(), key=lambda x: x.msisdn)]}


@router.get("/{msisdn}/subscriptions", summary="The products on one of my lines")
def subscriptions(msisdn: str, p: CurrentSubscriber, c: ContainerDep, lang: Lang):
    number = parse_msisdn(msisdn)
    with c.uow() as uow:
        visible_line(uow, p, number)
        out = []
        for s, prod in uow.repo.subscriptions_with_products(number):
            ends = access_end(s, c.pack)
            access = ends.isoformat() if ends else None
            out.append({"id": s.id, "product": prod.code, "kind": prod.kind, "name": prod.name(lang), "price": prod.price,
                        "currency": prod.currency, "period": prod.period, "period_start": s.period_start.isoformat(),
                        "period_end": s.period_end.isoformat(), "auto_renew": s.auto_renew, "access_ends_at": access,
                        "unsubscribe_effect": prod.unsubscribe_effect, "refund": prod.refund, "status": s.status})
        return {"subscriptions": out}


@router.get("/{msisdn}/history", summary="A line's status changes, oldest first (its owner, enterprise admin, staff)")
def history(msisdn: str, p: CurrentPrincipal, c: ContainerDep):
    return {"msisdn": parse_msisdn(msisdn), "history": selfservice.line_history(c, p, msisdn)}
