"""Step-up: a second factor, on top of the OTP session, for what cannot be undone.

The policy pack says which factors a request kind accepts (`[step_up]` in policies/*.toml; any
one of them will do). Default `cn`: `close_line` needs the last 6 characters of the owner's ID
number (`id_last6`) or the line's service password (`service_password`); `unsubscribe` and
`cancel_renewal` need nothing beyond the session.

Each factor has its own failure counter per person: 5 wrong answers lock *that* factor (15 min,
doubling on repeated lockouts) and notify the owner by SMS; the other factor stays usable.
Staff record an in-person ID check instead; enterprise admins act for the company.
"""
from __future__ import annotations

from canceldesk.domain.identifiers import id_last6, mask_msisdn

from . import alerts, audit, auth
from .errors import Forbidden
from .notifications import notify
from .principal import Principal

_SUBJECT = {"id_last6": "su:id6:", "service_password": "su:pw:"}
_ASK = {"id_last6": "the last 6 characters of your ID number (id_last6)",
        "service_password": "your service password (service_password)"}


def _subject(factor: str, customer_id: str) -> str:
    return f"{_SUBJECT.get(factor, 'su:' + factor + ':')}{customer_id}"[:80]


def _verify(c, uow, factor: str, req, answer: str) -> bool:
    if factor == "id_last6":
        customer = uow.repo.customer(req.customer_id)
        expected = id_last6(customer.id_doc_number) if customer is not None else "\x00" * 6
        return c.keyring.same(expected, id_last6(answer))
    if factor == "service_password":
        from .importer import verify_service_password  # both hash formats (import and auth)
        line = uow.repo.line(req.msisdn)
        return verify_service_password(c, line.service_password_hash if line else None, answer)
    return False


def check(c, uow, principal: Principal, req, verification: dict | None) -> None:
    """Return if the step-up is satisfied (or not needed); otherwise raise 403 with
    STEP_UP_REQUIRED, STEP_UP_FAILED (a failure is committed before raising) or STEP_UP_LOCKED."""
    factors = c.pack.step_up_factors(req.kind)
    if not factors or not principal.is_subscriber:
        return
    now = c.now()
    locked = [f for f in factors if auth.is_locked(uow, _subject(f, principal.id), now)]
    usable = [f for f in factors if f not in locked]
    details = {"factors": list(factors), "locked": locked}
    if not usable:
        raise Forbidden("identity check locked after repeated failures; try again later", details,
                        code="STEP_UP_LOCKED")
    given = {f: v for f, v in (verification or {}).items() if f in factors and isinstance(v, str) and v.strip()}
    if not given:
        raise Forbidden("this needs a second check: " + " or ".join(_ASK.get(f, f) for f in usable), details,
                        code="STEP_UP_REQUIRED")
    tried = [f for f in given if f in usable]
    if not tried:
        raise Forbidden(f"{', '.join(given)} is locked after repeated failures; use "
                        + " or ".join(_ASK.get(f, f) for f in usable), details, code="STEP_UP_LOCKED")
    for f in tried:
        if _verify(c, uow, f, req, given[f]):
            auth.clear_failures(uow, _subject(f, principal.id))
            return
    newly_locked = [f for f in tried if auth._register(c, uow, _subject(f, principal.id))]
    audit.record(uow, at=now, actor=principal.actor, event="step_up_failed", subject=req.tracking_no,
                 details={"factors": tried, "kind": req.kind})
    if newly_locked:
        notify(uow.repo, to=req.msisdn, event="step_up_locked", ref=req.tracking_no, at=now,
               dedup=f"{req.id}:step_up_locked:{now.timestamp()}", kind=req.kind,
               lang=req.lang or c.pack.locale)
        # SIM-swap aware: the number itself may be the attacker's card — tell every other line too
        elsewhere = alerts.announce(uow, customer_id=req.customer_id, msisdn=req.msisdn, event="step_up_locked_elsewhere",
                                    ref=req.tracking_no, at=now, dedup=f"{req.id}:step_up_locked:{now.timestamp()}",
                                    kind=req.kind, lang=req.lang or c.pack.locale)
        audit.record(uow, at=now, actor=principal.actor, event="step_up_locked", subject=req.tracking_no,
                     details={"factors": newly_locked, "kind": req.kind, "notified": mask_msisdn(req.msisdn),
                              "also_notified": elsewhere})
    uow.commit()
    left = min(auth.tries_left(c, uow, _subject(f, principal.id)) for f in tried)
    raise Forbidden(f"the identity check failed; {left} tries left before it locks for a while",
                    {**details, "locked": locked + newly_locked, "tries_left": left}, code="STEP_UP_FAILED")
