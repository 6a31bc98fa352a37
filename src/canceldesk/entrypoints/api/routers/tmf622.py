"""TMF622 Product Ordering v4 (the partner and fleet API): orders that end things.

Only parses and answers; the rules are in service_layer/product_orders.py and tmf_hubs.py.
Every error under /tmf-api has the TMF shape (app.py, tmf_errors.py).
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from canceldesk.service_layer import order_cancels, product_orders, tmf_format, tmf_hubs

from ..deps import ContainerDep, CurrentPartner
from ..hardening import SafeJSONResponse

router = APIRouter(prefix=tmf_format.BASE, tags=["TMF622 product ordering"])
MAX_LIMIT = 1000


def _fields(fields: str | None) -> list[str] | None:
    if not fields:
        return None
    return [f.strip() for f in fields.split(",") if f.strip()][:50] or None


def _listing(total: int, rows: list[dict]) -> JSONResponse:
    return SafeJSONResponse(rows, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(rows))})


ORDER_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "title": "ProductOrder_Create", "required": ["productOrderItem"],
    "properties": {"productOrderItem": {"type": "array", "minItems": 1, "items": {"type": "object"}}}}}}}}


@router.post("/productOrder", status_code=201, summary="Order the end of products (delete / modify items)",
             openapi_extra=ORDER_BODY)
async def create_order(request: Request, p: CurrentPartner, c: ContainerDep):
    """The body is read as text and its items decoded one at a time; the answer (every item) is
    streamed from the database: memory stays flat whatever the order's size."""
    raw = bytearray()
    async for piece in request.stream():  # not request.body(): that would keep a second copy alive
        raw += piece
    order_id = await run_in_threadpool(product_orders.create_from_json, c, p, raw)
    del raw
    pieces = await run_in_threadpool(lambda: iter(product_orders.created_stream(c, p, order_id)))
    first = await run_in_threadpool(next, pieces)  # the order is read (and owned) before the answer starts
    await run_in_threadpool(c.enqueue_order, order_id)
    href = f"{tmf_format.BASE}/productOrder/{order_id}"
    return StreamingResponse(_encoded(first, pieces), status_code=201, media_type="application/json",
                             headers={"Location": href})


def _encoded(first: str, rest):
    yield first.encode("utf-8", "backslashreplace")
    for piece in rest:
        yield piece.encode("utf-8", "backslashreplace")


@router.get("/productOrder", summary="The enterprise's orders (fields, filters, offset/limit)")
def list_orders(p: CurrentPartner, c: ContainerDep, fields: str | None = Query(None, max_length=500),
                offset: int = Query(0, ge=0, le=10_000_000), limit: int = Query(100, ge=1, le=MAX_LIMIT),
                id: str | None = Query(None, max_length=36), state: str | None = Query(None, max_length=24),
                orderDate: str | None = Query(None, max_length=40)):
    filters = {k: v for k, v in (("id", id), ("state", state), ("orderDate", orderDate)) if v is not None}
    total, rows = product_orders.list_orders(c, p, fields=_fields(fields), filters=filters, offset=offset, limit=limit)
    return _listing(total, rows)


@router.get("/productOrder/{id}", summary="One order with each item's state")
def get_order(id: str, p: CurrentPartner, c: ContainerDep, fields: str | None = Query(None, max_length=500)):
    return SafeJSONResponse(product_orders.get(c, p, id, _fields(fields)))


@router.post("/cancelProductOrder", status_code=201, summary="Withdraw the items not yet executing")
def cancel_order(p: CurrentPartner, c: ContainerDep, body: Any = Body(...)):
    out = order_cancels.cancel(c, p, body)
    return SafeJSONResponse(out, status_code=201, headers={"Location": out["href"]})


@router.get("/cancelProductOrder", summary="The enterprise's cancellations")
def list_cancels(p: CurrentPartner, c: ContainerDep, fields: str | None = Query(None, max_length=500),
                 offset: int = Query(0, ge=0, le=10_000_000), limit: int = Query(100, ge=1, le=MAX_LIMIT)):
    total, rows = order_cancels.list_cancels(c, p, offset, limit)
    return _listing(total, [tmf_format.pick(r, _fields(fields)) for r in rows])


@router.get("/cancelProductOrder/{id}", summary="One cancellation")
def get_cancel(id: str, p: CurrentPartner, c: ContainerDep, fields: str | None = Query(None, max_length=500)):
    return SafeJSONResponse(tmf_format.pick(order_cancels.get_cancel(c, p, id), _fields(fields)))


@router.post("/hub", status_code=201, summary="Register a callback for ProductOrderStateChangeEvent (signed)")
def register_hub(p: CurrentPartner, c: ContainerDep, body: Any = Body(...)):
    hub = tmf_hubs.register(c, p, body)
    return SafeJSONResponse(hub, status_code=201, headers={"Location": f"{tmf_format.BASE}/hub/{hub['id']}"})


@router.delete("/hub/{id}", status_code=204, summary="Remove a callback")
def delete_hub(id: str, p: CurrentPartner, c: ContainerDep):
    tmf_hubs.delete(c, p, id)
    return Response(status_code=204)
