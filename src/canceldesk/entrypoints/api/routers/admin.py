from __future__ import annotations

from fastapi import APIRouter, Request

from canceldesk.service_layer import requests as svc
from canceldesk.service_layer.errors import InvalidInput

from ..deps import ContainerDep, CurrentAdmin, CurrentReviewer
from ..schemas import ReviewDecision

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/import", summary="Import products, customers, lines and subscriptions (JSON or JSON Lines)")
async def import_document(request: Request, p: CurrentAdmin, c: ContainerDep):
    limit = c.settings.max_import_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidInput(f"the import is larger than {limit} bytes; use `canceldesk import FILE` for big feeds",
                               code="PAYLOAD_TOO_LARGE")
        chunks.append(chunk)
    from starlette.concurrency import run_in_threadpool

    from canceldesk.service_layer import importer
    return await run_in_threadpool(importer.import_bytes, c, b"".join(chunks), request.headers.get("content-type"))


@router.get("/queues/review", summary="Requests waiting for a person, oldest first")
def review_queue(p: CurrentReviewer, c: ContainerDep):
    with c.uow() as uow:
        return {"requests": [svc.request_public(r, tz=c.pack.timezone) for r in uow.repo.requests_in_status(["in_review"])]}


@router.get("/queues/escalations", summary="Failed or overdue requests, oldest first, with age and escalation")
def escalations(p: CurrentReviewer, c: ContainerDep):
    from canceldesk.service_layer import escalations as esc
    return {"requests": esc.queue(c, c.now())}


@router.post("/requests/{tracking_no}/review", summary="Approve or reject a request in review")
def decide(tracking_no: str, body: ReviewDecision, p: CurrentReviewer, c: ContainerDep):
    return svc.request_public(tz=c.pack.timezone, req=svc.review(c, p, tracking_no, body.approve, body.reason))
