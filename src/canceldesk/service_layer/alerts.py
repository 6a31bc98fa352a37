"""SIM-swap aware notices (issue 8).

The number being closed may be the attacker's SIM (a swapped or cloned card): a notice sent only
there warns nobody. So a step-up lockout and a closure request are announced to the owner on every
*other* line they hold in service as well (`announce`), where the real owner will read it.
"""
from __future__ import annotations

from canceldesk.domain.identifiers import mask_msisdn
from canceldesk.domain.model import CustomerKind, LineStatus

from .notifications import notify

REACHABLE = (LineStatus.ACTIVE, LineStatus.SUSPENDED)  # a suspended line still receives SMS


def other_contacts(uow, customer_id: str, msisdn: str) -> list[str]:
    """The owner's other numbers in service (a person's; an enterprise's admins are told elsewhere)."""
    customer = uow.repo.customer(customer_id)
    if customer is None or customer.kind != CustomerKind.PERSON:
        return []
    return [l.msisdn for l in uow.repo.lines_of(customer_id) if l.msisdn != msisdn and l.status in REACHABLE]


def announce(uow, *, customer_id: str, msisdn: str, event: str, ref: str | None, at, dedup: str, lang: str,
             **params) -> list[str]:
    """Tell the owner on every other line; returns the masked numbers told (for the audit log)."""
    told = []
    for to in other_contacts(uow, customer_id, msisdn):
        notify(uow.repo, to=to, event=event, ref=ref, at=at, dedup=f"{dedup}:{to}", msisdn=mask_msisdn(msisdn), lang=lang, **params)
        told.append(mask_msisdn(to))
    return told
