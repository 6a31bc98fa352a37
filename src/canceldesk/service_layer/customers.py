"""Staff-facing customer look-ups and in-person ID checks, masked and audited.

Built on the counter use cases (counter.py, shared with the counter console pages): this module
adds what the JSON API needs on top — an audit row for every look-up (who looked at whom) and a
masked view (name, ID number and phone numbers are never returned in full). Repeated failed ID
checks pause the agent's checks in every path (auth.count_id_check), so the check is no oracle
for the hidden middle of a masked ID number.
"""
from __future__ import annotations

from canceldesk.domain.identifiers import mask_msisdn

from . import audit, counter
from .principal import Principal


def _masked_view(view: dict) -> dict:
    def req(r) -> dict:
        return {"tracking_no": r.tracking_no, "kind": r.kind, "status": r.status,
                "msisdn_masked": mask_msisdn(r.msisdn), "created_at": r.created_at.isoformat()}
    return {
        "id": view["id"], "kind": view["kind"], "name_masked": view["name_masked"],
        "verified_in_person": view["verified_in_person"],
        "id_document": {"type": view["id_doc_type"], "number_masked": view["id_masked"]},
        "lines": [{"msisdn_masked": mask_msisdn(l["msisdn"]), "status": l["status"],
                   "is_primary_of_shared_plan": l["is_primary_of_shared_plan"], "arrears": l["arrears"],
                   "currency": l["currency"]} for l in view["lines"]],
        "open_requests": [req(r) for r in view["open_requests"]],
    }


def search(c, principal: Principal, *, msisdn: object = None, doc_type: object = None,
           doc_number: object = None) -> dict:
    """Find a customer by phone number or by ID document (keyed-hash look-up); masked."""
    customer_id = counter.find_customer(c, principal, msisdn=msisdn, doc_type=doc_type, doc_number=doc_number)
    return _masked_view(counter.customer_view(c, principal, customer_id))  # find_customer audited the search


def view(c, principal: Principal, customer_id: str) -> dict:
    result = _masked_view(counter.customer_view(c, principal, customer_id))
    audit.record_now(c, actor=principal.actor, event="customer_viewed", subject=result["id"], details={})
    return result


def check_identity(c, principal: Principal, customer_id: str, doc_type: object, doc_number: object) -> dict:
    """The in-person check, recorded (type, masked number, result); paused per agent after repeated
    mismatches (counter.check_identity → auth.count_id_check)."""
    return {"match": counter.check_identity(c, principal, customer_id, doc_type, doc_number)}
