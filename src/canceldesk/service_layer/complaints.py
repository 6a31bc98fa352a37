"""Complaints and appeals (投诉 / 申诉) on a request: they go to staff with the request attached.

A subscriber files one on their own request (an appeal is the usual answer to a rejection);
staff see the open ones oldest first and resolve them with a written answer. Every step is in
the audit log; the free text is encrypted at rest (it may carry personal data).
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from canceldesk.adapters import orm

from . import audit, staffscope
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .principal import Principal, may
from .requests import owned_request

KINDS = ("complaint", "appeal")
MAX_TEXT = 2000


@dataclass
class Complaint:
    id: str
    reference: str
    tracking_no: str
    request_status: str
    kind: str
    text: str
    status: str
    filed_by: str
    channel: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


def _parse(kind: object, text: object) -> tuple[str, str]:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", {"field": "kind"})
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("say what went wrong (text)", {"field": "text"}, code="TEXT_REQUIRED")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"at most {MAX_TEXT} characters", {"field": "text"}, code="TEXT_TOO_LONG")
    return str(kind), text.strip()


def file(c, principal: Principal, tracking_no: str, kind: object, text: object) -> Complaint:
    """File a complaint or appeal on a request the principal may see (404 otherwise)."""
    kind, text = _parse(kind, text)
    now = c.now()
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        cid = str(uuid.uuid4())
        ref = f"TS{now:%Y%m%d}{secrets.token_hex(3).upper()}"
        uow.session.execute(orm.complaints.insert().values(
            id=cid, reference=ref, request_id=req.id, customer_id=req.customer_id, kind=kind, text=text,
            status="open", filed_by=principal.actor, channel=principal.channel, created_at=now))
        audit.record(uow, at=now, actor=principal.actor, event=f"{kind}_filed", subject=req.tracking_no,
                     details={"reference": ref})
        uow.commit()
    return Complaint(cid, ref, req.tracking_no, req.status, kind, text, "open", principal.actor, principal.channel,
                     now, None, None, None)


def _rows(uow, where, order=None, limit: int = 200) -> list[Complaint]:
    q = (select(orm.complaints, orm.requests.c.tracking_no, orm.requests.c.status.label("request_status"))
         .join(orm.requests, orm.requests.c.id == orm.complaints.c.request_id).where(*where)
         .order_by(order if order is not None else orm.complaints.c.created_at).limit(limit))
    return [Complaint(r["id"], r["reference"], r["tracking_no"], r["request_status"], r["kind"], r["text"], r["status"],
                      r["filed_by"], r["channel"], r["created_at"], r["resolved_at"], r["resolved_by"], r["resolution"])
            for r in uow.session.execute(q).mappings()]


def for_request(c, principal: Principal, tracking_no: str) -> list[Complaint]:
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        return _rows(uow, [orm.complaints.c.request_id == req.id])


def open_queue(c, principal: Principal, limit: int = 200) -> list[Complaint]:
    """Staff: open complaints and appeals, oldest first (an agent: those of its own store's requests)."""
    if not may(principal, "staff_pages"):
        raise Forbidden("staff only")
    store = staffscope.own_store_clause(principal)
    with c.uow() as uow:
        return _rows(uow, [orm.complaints.c.status == "open"] + ([store] if store is not None else []), limit=limit)


def resolve(c, principal: Principal, reference: str, resolution: object) -> None:
    if not may(principal, "staff_pages"):
        raise Forbidden("staff only")
    if not isinstance(resolution, str) or not resolution.strip():
        raise InvalidInput("write the answer the subscriber will read", {"field": "resolution"}, code="TEXT_REQUIRED")
    if len(resolution) > MAX_TEXT:
        raise InvalidInput(f"at most {MAX_TEXT} characters", {"field": "resolution"}, code="TEXT_TOO_LONG")
    now = c.now()
    with c.uow() as uow:
        row = uow.session.execute(select(orm.complaints.c.status, orm.requests.c.requested_by)
                                  .join(orm.requests, orm.requests.c.id == orm.complaints.c.request_id)
                                  .where(orm.complaints.c.reference == str(reference)[:32])).first()
        if row is None:
            raise NotFound("no such complaint")
        if not (staffscope.sees_every_store(principal) or principal.acted_at_own_store(row.requested_by)):
            raise Forbidden("this complaint is about another store's request")
        if row.status != "open":
            raise Conflict("this complaint is already resolved", code="INVALID_STATE")
        uow.session.execute(update(orm.complaints).where(orm.complaints.c.reference == reference).values(
            status="resolved", resolved_at=now, resolved_by=principal.actor, resolution=resolution.strip()))
        audit.record(uow, at=now, actor=principal.actor, event="complaint_resolved", subject=reference)
        uow.commit()
