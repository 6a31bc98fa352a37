"""Staff-facing JSON: find a walk-in customer (masked) and record the in-person ID check.

The counter console pages call the same service layer (service_layer/customers.py, counter.py).
ID numbers travel in request bodies, never in URLs (URLs end up in access logs and proxies).
"""
from __future__ import annotations

from fastapi import APIRouter, Path

from canceldesk.service_layer import customers
from canceldesk.service_layer.errors import InvalidInput

from ..deps import ContainerDep, CurrentCounterStaff
from ..schemas import CustomerSearch, Document

router = APIRouter(prefix="/v1/staff", tags=["staff"])

CustomerId = Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


@router.post("/customers/search", summary="Find a customer by phone number or ID document (masked answer)")
def search(body: CustomerSearch, p: CurrentCounterStaff, c: ContainerDep):
    if bool(body.msisdn) == bool(body.id_document):
        raise InvalidInput("give either msisdn or id_document", {"field": "msisdn"})
    doc = body.id_document
    return customers.search(c, p, msisdn=body.msisdn, doc_type=doc.type if doc else None,
                            doc_number=doc.number if doc else None)


@router.get("/customers/{customer_id}", summary="One customer: masked identity, lines, open requests")
def view(p: CurrentCounterStaff, c: ContainerDep, customer_id: str = CustomerId):
    return customers.view(c, p, customer_id)


@router.post("/customers/{customer_id}/id-checks", summary="Record the in-person ID check (does the document match?)")
def id_check(body: Document, p: CurrentCounterStaff, c: ContainerDep, customer_id: str = CustomerId):
    return customers.check_identity(c, p, customer_id, body.type, body.number)
