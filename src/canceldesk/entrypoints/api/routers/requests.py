from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import Response

from canceldesk.adapters.pdf import receipt_pdf
from canceldesk.service_layer import receipts
from canceldesk.service_layer.errors import Forbidden
from canceldesk.service_layer import requests as svc
from canceldesk.service_layer.principal import may

from ..hardening import json_answer
from ..deps import ContainerDep, CurrentPrincipal, CurrentRequester, Lang
from ..schemas import ConfirmCreate, PrecheckCreate, RequestCreate

router = APIRouter(prefix="/v1", tags=["requests"])


@router.post("/prechecks", summary="What blocks this, what to acknowledge, and what it would cost or refund")
def precheck(body: PrecheckCreate, p: CurrentPrincipal, c: ContainerDep, lang: Lang):
    doc = body.in_person_document.model_dump() if body.in_person_document else None
    return json_answer(svc.precheck(c, p, body.kind, body.msisdn, body.subscription_id, lang, doc).as_dict())


@router.post("/requests", status_code=201, summary="Ask to end something (pre-checked, then awaiting confirmation)")
def create(body: RequestCreate, p: CurrentRequester, c: ContainerDep, lang: Lang,
           idempotency_key: Annotated[str | None, Header(max_length=200, pattern=r"^[\x21-\x7e]+$")] = None):
    cmd = svc.NewRequest(kind=body.kind, msisdn=body.msisdn, subscription_id=body.subscription_id, reason=body.reason,
                         acknowledged_warnings=tuple(body.acknowledged_warnings), idempotency_key=idempotency_key,
                         in_person_document=body.in_person_document.model_dump() if body.in_person_document else None,
                         lang=lang)
    req, created = svc.create_request(c, p, cmd)
    return json_answer(svc.request_public(req, tz=c.pack.timezone, lang=lang), status_code=201 if created else 200)


@router.get("/requests", summary="My requests, newest first")
def mine(p: CurrentPrincipal, c: ContainerDep, lang: Lang):
    if not p.is_subscriber:
        return {"requests": []}
    with c.uow() as uow:
        return {"requests": [svc.request_public(r, tz=c.pack.timezone, lang=lang) for r in uow.repo.requests_of(p.id)]}


@router.get("/requests/{tracking_no}", summary="Status and timeline")
def get(tracking_no: str, p: CurrentPrincipal, c: ContainerDep, lang: Lang):
    with c.uow() as uow:
        req = svc.owned_request(uow, p, tracking_no)
        return svc.request_public(req, uow.repo.steps(req.id), tz=c.pack.timezone, lang=lang)


@router.post("/requests/{tracking_no}/confirm", summary="Confirm the shown impact (close_line needs a second factor)")
def confirm(tracking_no: str, p: CurrentRequester, c: ContainerDep, lang: Lang,
            body: Annotated[ConfirmCreate | None, Body()] = None):
    verification = body.verification.model_dump(exclude_none=True) if body and body.verification else None
    return json_answer(svc.confirmed_view(c, svc.confirm(c, p, tracking_no, verification, lang), lang))


@router.post("/requests/{tracking_no}/withdraw", summary="Withdraw before execution")
def withdraw(tracking_no: str, p: CurrentRequester, c: ContainerDep, lang: Lang):
    return svc.request_public(svc.withdraw(c, p, tracking_no), tz=c.pack.timezone, lang=lang)


@router.get("/requests/{tracking_no}/receipt", summary="The receipt: PDF, or JSON with Accept: application/json",
            responses={200: {"content": {"application/pdf": {}, "application/json": {}}}})
def receipt(tracking_no: str, p: CurrentPrincipal, c: ContainerDep, request: Request, lang: Lang,
            copy: Annotated[Literal["auditor", "subscriber"], Query()] = "subscriber"):
    """`?copy=auditor` (reviewers and admins only) adds the ledger with its account names."""
    if copy == "auditor" and not may(p, "review"):
        raise Forbidden("the auditor's copy is for reviewers and admins; ask for the subscriber's copy",
                        {"copy": copy})
    data = receipts.receipt_for(c, p, tracking_no, lang)
    if "application/json" in request.headers.get("accept", ""):
        return data
    base = str(request.base_url).rstrip("/")
    pdf = receipt_pdf(data, verify_url=f"{base}/verify/{data['verification_code']}", lang=lang, copy=copy)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="receipt-{data["tracking_no"]}.pdf"'})


@router.get("/receipts/verify/{code}", summary="Anyone: is this receipt genuine? (no personal data)")
def verify(code: str, c: ContainerDep):
    return receipts.verify(c, code[:40])
