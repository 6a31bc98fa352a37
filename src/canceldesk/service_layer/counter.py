"""The counter (营业厅): an agent finds a walk-in customer and checks the physical ID in person.

Look-ups by ID number go through the key ring's keyed digest (customers.id_doc_digest): the full
number is never stored in clear, never logged, and only masked on screen.
"""
from __future__ import annotations

from canceldesk.domain.identifiers import (InvalidIdentifier, mask_id, mask_msisdn, mask_name, validate_document)

from . import audit, auth, requests, staffscope
from .errors import Forbidden, InvalidInput, NotFound
from .principal import Principal, may
from .selfservice import line_public


def _require_agent(principal: Principal) -> None:
    if not may(principal, "counter"):
        raise Forbidden("the counter needs an agent login")


def _document(doc_type: object, number: object, field: str = "id_document") -> str:
    try:
        return validate_document(doc_type, number, field)
    except InvalidIdentifier as exc:
        raise InvalidInput(exc.message, {"field": exc.field}) from None


def find_customer(c, principal: Principal, *, msisdn: object = None, doc_type: object = None,
                  doc_number: object = None) -> str:
    """The customer id behind a number or an ID document; NotFound if there is none.

    Every search is audited (`customer_lookup`, hit or miss) and spends the staff account's
    look-up budget; a search by ID document that finds nobody also spends the agent's ID-check
    budget (auth.count_id_check) and pauses the same way — no recovering an ID number by trial."""
    _require_agent(principal)
    by = "msisdn" if msisdn else "document"
    number = requests.parse_msisdn(msisdn) if msisdn else _document(doc_type, doc_number)
    staffscope.spend(c, principal, "customer_search")
    with c.uow() as uow:
        if msisdn:
            line = uow.repo.line(number)
            found = line.customer_id if line is not None else None
            shown = mask_msisdn(number)
        else:
            auth.guard_id_checks(c, uow, principal)
            matches = [cu for cu in uow.repo.customers_by_digest(c.keyring.digests(number)) if cu.id_doc_type == doc_type]
            found = matches[0].id if matches else None
            shown = mask_id(number)
            if found is None and auth.count_id_check(c, uow, principal, False):
                audit.record(uow, at=c.now(), actor=principal.actor, event="id_check_locked", subject=shown)
        staffscope.looked_up(uow, c, principal, "customer_lookup", found or shown, found is not None, by=by)
        uow.commit()
    if found is None:
        raise NotFound("no line with this number" if msisdn else "no customer with this document")
    return found


def customer_view(c, principal: Principal, customer_id: str) -> dict:
    """Who (masked), every line under the identity, open and recent requests."""
    _require_agent(principal)
    with c.uow() as uow:
        cu = uow.repo.customer(str(customer_id)[:64])
        if cu is None:
            raise NotFound("no such customer")
        # An agent sees the lines and requests of a customer verified in person (staffscope).
        verified = staffscope.sees_customer(uow, principal, cu.id, c.now())
        lines = {l.msisdn: l for l in uow.repo.lines_of(cu.id)} if verified else {}
        for l in (uow.repo.lines_reclaimable_by(cu.id) if verified else []):
            lines.setdefault(l.msisdn, l)
        recent = uow.repo.requests_of(cu.id, limit=30) if verified else []
        # the full name is for the agent to compare with the card in hand (shown only in the ID check)
        return {"id": cu.id, "kind": cu.kind, "name_masked": mask_name(cu.name),
                "name_on_record": cu.name if c.pack.counter_shows_full_name else None, "id_doc_type": cu.id_doc_type,
                "id_masked": mask_id(cu.id_doc_number), "verified_in_person": verified,
                "lines": [line_public(uow, l) for l in sorted(lines.values(), key=lambda x: x.msisdn)],
                "open_requests": [r for r in recent if r.is_open], "recent_requests": recent}


def holds_line(c, principal: Principal, customer_id: str, msisdn: object) -> bool:
    """Whether this customer holds the number (Line.held_by) — a yes/no, no facts of the line."""
    _require_agent(principal)
    try:
        number = requests.parse_msisdn(msisdn)
    except InvalidInput:
        return False
    with c.uow() as uow:
        line = uow.repo.line(number)
        return line is not None and line.held_by(customer_id)


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
        auth.guard_id_checks(c, uow, principal)  # paused after repeated mismatches (no oracle)
        ok = cu.id_doc_type == doc_type and c.keyring.matches_digest(cu.id_doc_digest, number)
        if auth.count_id_check(c, uow, principal, ok):
            audit.record(uow, at=now, actor=principal.actor, event="id_check_locked", subject=cu.id)
        if ok:
            staffscope.remember_verified(uow, principal, cu.id, now)
        audit.record(uow, at=now, actor=principal.actor, event="in_person_id_check", subject=cu.id,
                     details={"document_type": str(doc_type), "document_masked": mask_id(number), "match": ok})
        uow.commit()
    return ok
