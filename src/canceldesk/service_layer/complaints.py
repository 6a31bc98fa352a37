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
        uow.complaints.add(id=cid, reference=ref, request_id=req.id, customer_id=req.customer_id, kind=kind, text=text,
                           status="open", filed_by=principal.actor, channel=principal.channel, created_at=now)
        audit.record(uow, at=now, actor=principal.actor, event=f"{kind}_filed", subject=req.tracking_no,
                     details={"reference": ref})
        uow.commit()
    return Complaint(cid, ref, req.tracking_no, req.status, kind, text, "open", principal.actor, principal.channel,
                     now, None, None, None)


def _complaints(rows: list[dict]) -> list[Complaint]:
    return [Complaint(r["id"], r["reference"], r["tracking_no"], r["request_status"], r["kind"], r["text"], r["status"],
                      r["filed_by"], r["channel"], r["created_at"], r["resolved_at"], r["resolved_by"], r["resolution"])
            for r in rows]


def for_request(c, principal: Principal, tracking_no: str) -> list[Complaint]:
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        return _complaints(uow.complaints.of_request(req.id))


def open_queue(c, principal: Principal, limit: int = 200) -> list[Complaint]:
    """Staff: open complaints and appeals, oldest first (an agent: those of its own store's requests)."""
    if not may(principal, "staff_pages"):
        raise Forbidden("staff only")
    with c.uow() as uow:
        return _complaints(uow.complaints.open(staffscope.own_store(principal), limit))


def resolve(c, principal: Principal, reference: str, resolution: object) -> None:
    if not may(principal, "staff_pages"):
        raise Forbidden("staff only")
    if not isinstance(resolution, str) or not resolution.strip():
        raise InvalidInput("write the answer the subscriber will read", {"field": "resolution"}, code="TEXT_REQUIRED")
    if len(resolution) > MAX_TEXT:
        raise InvalidInput(f"at most {MAX_TEXT} characters", {"field": "resolution"}, code="TEXT_TOO_LONG")
    now = c.now()
    with c.uow() as uow:
        row = uow.complaints.state(str(reference)[:32])
        if row is None:
            raise NotFound("no such complaint")
        status, requested_by = row
        if not (staffscope.sees_every_store(principal) or principal.acted_at_own_store(requested_by)):
            raise Forbidden("this complaint is about another store's request")
        if status != "open":
            raise Conflict("this complaint is already resolved", code="INVALID_STATE")
        uow.complaints.resolve(reference, at=now, by=principal.actor, resolution=resolution.strip())
        audit.record(uow, at=now, actor=principal.actor, event="complaint_resolved", subject=reference)
        uow.commit()
