"""TMF622 `cancelProductOrder`: withdraw an order's items not yet executing (those already executing run to
their end), and read the cancellations back. The order itself: product_orders.py."""
from __future__ import annotations

import logging
import uuid

from . import product_orders, requests, tmf_format
from .errors import Conflict, InvalidInput, NotFound, ServiceError
from .principal import Principal
from .tmf_parse import parse_time, text_field

log = logging.getLogger("canceldesk.product_orders")


def cancel(c, principal: Principal, body: object) -> dict:
    """Withdraw the items not yet executing; those already executing run to their end."""
    if not isinstance(body, dict) or not isinstance(body.get("productOrder"), dict) or \
            not isinstance(body["productOrder"].get("id"), str):
        raise InvalidInput("productOrder.id names the order to cancel", {"field": "productOrder.id"})
    reason = text_field(body, "cancellationReason", 500)
    requested = body.get("requestedCancellationDate")
    requested_at = parse_time(requested, "requestedCancellationDate") if requested is not None else None
    now = c.now()
    with c.uow() as uow:
        try:
            o = product_orders._owned(uow, principal, body["productOrder"]["id"])
        except NotFound as exc:  # the specification lists 400, not 404, for this POST
            raise InvalidInput(exc.message, {"field": "productOrder.id"}, code="ORDER_NOT_FOUND") from None
        if o["state"] in tmf_format.FINAL:
            raise Conflict(f"the order is already {o['state']}", {"state": o["state"]}, code="ORDER_FINISHED")
        uow.orders.cancel_unsubmitted(o["id"])
        uow.orders.touch(o["id"], now, cancellation_date=now, cancellation_reason=reason)
        withdraw = uow.orders.withdrawable(o["id"])
        cancel_id = str(uuid.uuid4())
        uow.orders.add_cancel(id=cancel_id, order_id=o["id"], enterprise_id=o["enterprise_id"],
                               state="done", cancellation_reason=reason, requested_cancellation_date=requested_at,
                               effective_cancellation_date=now, created_at=now)
        uow.commit()
    actor = product_orders.principal_of(o)
    for tracking_no in withdraw:
        try:
            requests.withdraw(c, actor, tracking_no)
        except ServiceError as exc:  # it moved on in the meantime: it runs to its end
            log.info("order %s: request not withdrawn (%s)", o["id"], exc.code)
    product_orders.refresh(c, o["id"])
    with c.uow() as uow:
        return tmf_format.cancellation(uow.orders.cancel(cancel_id))


def get_cancel(c, principal: Principal, cancel_id: str) -> dict:
    ent = product_orders._enterprise(principal)
    with c.uow() as uow:
        row = uow.orders.cancel(str(cancel_id)[:36])
    if row is None or row["enterprise_id"] != ent:
        raise NotFound(f"no cancelProductOrder with id {str(cancel_id)[:36]}")
    return tmf_format.cancellation(row)


def list_cancels(c, principal: Principal, offset: int, limit: int) -> tuple[int, list[dict]]:
    ent = product_orders._enterprise(principal)
    with c.uow() as uow:
        total, rows = uow.orders.cancels(ent, offset, limit)
    return total, [tmf_format.cancellation(r) for r in rows]
