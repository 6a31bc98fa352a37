"""The counter (营业厅): an agent finds a walk-in customer and checks the physical ID in person.

Look-ups by ID number go through the key ring's keyed digest (customers.id_doc_digest): the full
number is never stored in clear, never logged, and only masked on screen.
"""
from __future__ import annotations

from canceldesk.domain.identifiers import (InvalidIdentifier, mask_id, mask_name, validate_document)

from . import audit, auth, requests
from .errors import Forbidden, InvalidInput, NotFound
from .principal import Principal
from .selfservice import line_public

COUNTER_ROLES = ("agent", "admin")


def _require_agent(principal: Principal) -> None:
    if principal.role not in COUNTER_ROLES:
        raise Forbidden("the counter needs an agent login")


def _document(doc_type: object, number: object, field: str = "id_document") -> str:
    try:
        return validate_document(doc_type, number, field)
    except InvalidIdentifier as exc:
        raise InvalidInput(exc.message, {"field": exc.field}) from None


def find_customer(c, principal: Principal, *, msisdn: object = None, doc_type: object = None,
                  doc_number: object = None) -> str:
    """The customer id behind a number or an ID document; NotFound if there is none."""
    _require_agent(principal)
    with c.uow() as uow:
        if msisdn:
            line = uow.repo.line(requests.parse_msisdn(msisdn))
            if line is None:
                raise NotFound("no line with this number")
            return line.customer_id
        number = _document(doc_type, doc_number)
        matches = [cu for cu in uow.repo.customers_by_digest(c.keyring.digests(number)) if cu.id_doc_type == doc_type]
        if not matches:
            raise NotFound("no customer with this document")
        return matches[0].id


def customer_view(c, principal: Principal, customer_id: str) -> dict:
    """Who (masked), every line under the identity, open and recent requests."""
    _require_agent(principal)
    with c.uow() as uow:
        cu = uow.repo.customer(str(customer_id)[:64])
        if cu is None:
            raise NotFound("no such customer")
        lines = {l.msisdn: l for l in uow.repo.lines_of(cu.id)}
        for l in uow.repo.lines_reclaimable_by(cu.id):
            lines.setdefault(l.msisdn, l)
        recent = uow.repo.requests_of(cu.id, limit=30)
        # the full name is for the agent to compare with the card in hand (shown only in the ID check)
        return {"id": cu.id, "kind": cu.kind, "name_masked": mask_name(cu.name), "name_on_record": cu.name if c.pack.counter_shows_full_name else None,
                "id_doc_type": cu.id_doc_type,
                "id_masked": mask_id(cu.id_doc_number),
                "lines": [line_public(uow, l) for l in sorted(lines.values(), key=lambda x: x.msisdn)],
                "open_requests": [r for r in recent if r.is_open], "recent_requests": recent}


def check_identity(c, principal: Principal, customer_id: str, doc_type: object, doc_number: object) -> bool:
    """Record the in-person ID check: does the presented document match the real-name record?

    The result (never the number) is written to the audit log. The caller keeps the presented
    document only for the following submission, which checks it again (`in_person_document`).
    """
    _require_agent(principal)
    number = _document(doc_type, doc_number, "in_person_document")
    now = c.now()
    with c.uow() as uow:
        cu = uow.repo.customer(str(customer_id)[:64])
        if cu is None:
            raise NotFound("no such customer")
        auth.guard_id_checks(c, uow.session, principal)  # paused after repeated mismatches (no oracle)
        ok = cu.id_doc_type == doc_type and c.keyring.matches_digest(cu.id_doc_digest, number)
        if auth.count_id_check(c, uow.session, principal, ok):
            audit.record(uow, at=now, actor=principal.actor, event="id_check_locked", subject=cu.id)
        audit.record(uow, at=now, actor=principal.actor, event="in_person_id_check", subject=cu.id,
                     details={"document_type": str(doc_type), "document_masked": mask_id(number), "match": ok})
        uow.commit()
    return ok
