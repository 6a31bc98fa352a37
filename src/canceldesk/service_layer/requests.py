"""Use cases of a termination request: pre-check, create, confirm, withdraw, read.

Every channel (REST, portal, SMS, counter) ends here, so a rule lives in one place.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from canceldesk.domain.errors import IntegrityConflict
from canceldesk.domain.identifiers import InvalidIdentifier, mask_msisdn, validate_document
from canceldesk.domain.lifecycle import Request, RequestKind, Status, covering_request
from canceldesk.domain.model import Line
from canceldesk.domain.prechecks import PrecheckContext, PrecheckResult, evaluate

from . import alerts, audit, auth, numbers, staffscope, stepup
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .request_notices import _notify_state, notify_state  # noqa: F401  (notify_state: intake.py uses requests.notify_state)
from .ports import UnitOfWork
from .principal import STAFF_ROLES, Principal, may
from .request_forms import (  # noqa: F401  (re-exported: callers use requests.<name>)
    NewRequest, confirmed_view, new_tracking_no, parse_kind, parse_msisdn, request_body_hash, request_public)


def visible_line(uow: UnitOfWork, principal: Principal, msisdn: str, snapshot: bool = False) -> Line:
    """The line if this principal may see it; otherwise 404 — the same as a line that does not exist.
    `snapshot`: a read-only copy (the pre-checks only look at it)."""
    line = (uow.repo.snapshots if snapshot else uow.repo).line(msisdn)
    if line is None:
        raise NotFound("no such line")
    if principal.is_subscriber:
        if not line.held_by(principal.id):  # a recycled or re-issued number is not the former owner's
            raise NotFound("no such line")
    elif principal.role == "enterprise_admin":
        if not line.held_by(principal.enterprise_id):
            raise NotFound("no such line")
    elif principal.role not in STAFF_ROLES:
        raise NotFound("no such line")
    return line


def _may_end(c, uow, principal: Principal, line: Line, doc: dict | None) -> bool:
    if principal.is_subscriber:
        return True  # visible_line already proved ownership
    if principal.role == "enterprise_admin":
        return line.customer_id == principal.enterprise_id
    if principal.role in STAFF_ROLES:
        if not doc:
            return False
        customer = uow.repo.customer(line.customer_id)
        try:
            number = validate_document(doc.get("type"), doc.get("number"), "in_person_document")
        except InvalidIdentifier as exc:
            raise InvalidInput(exc.message, {"field": exc.field}) from None
        auth.guard_id_checks(c, uow, principal)
        ok = (customer is not None and customer.id_doc_type == doc.get("type")
              and c.keyring.matches_digest(customer.id_doc_digest, number))
        auth.count_id_check(c, uow, principal, ok)
        return ok
    return False


def _context(c, uow, principal: Principal, kind: str, line: Line, subscription_id: str | None,
             doc: dict | None, lang: str, ignore_request: str | None = None) -> PrecheckContext:
    facts = uow.repo.snapshots  # read-only copies: a pre-check only looks
    subs = facts.subscriptions_with_products(line.msisdn)
    if RequestKind(kind).targets_subscription:
        if not subscription_id:
            raise InvalidInput(f"{kind} needs subscription_id (see GET /v1/lines/{line.msisdn}/subscriptions)",
                               {"field": "subscription_id"})
        if not any(s.id == subscription_id for s, _ in subs):
            raise NotFound("no such subscription on this line")
    open_no = covering_request(kind, subscription_id, facts.open_requests_on_line(line.msisdn), ignore_request)
    return PrecheckContext(
        kind=kind, line=line, subscriptions=subs, pack=c.pack, now=c.now(), subscription_id=subscription_id,
        actor_may_end=_may_end(c, uow, principal, line, doc), open_request_tracking_no=open_no,
        active_secondary_lines=uow.repo.active_secondaries(line.msisdn) if kind == "close_line" else [], lang=lang,
        admin_login_of=numbers.admin_login_enterprises(uow, line.msisdn) if kind == "close_line" else [])


def precheck(c, principal: Principal, kind: object, msisdn: object, subscription_id: str | None = None,
             lang: str = "zh", in_person_document: dict | None = None) -> PrecheckResult:
    kind, msisdn = parse_kind(kind), parse_msisdn(msisdn)
    staffscope.spend(c, principal, "precheck")  # per staff account; subscribers are limited by login
    # A subscriber's pre-check only reads (staff look-ups are audited, so theirs writes).
    with c.uow(readonly=not staffscope.is_staff(principal)) as uow:
        try:
            line = visible_line(uow, principal, msisdn, snapshot=True)
        except NotFound:
            staffscope.looked_up(uow, c, principal, "staff_precheck", mask_msisdn(msisdn), False, kind=kind)
            uow.commit()  # misses are audited too
            raise
        ctx = _context(c, uow, principal, kind, line, subscription_id, in_person_document, lang)
        result = _staff_view(c, uow, principal, ctx, evaluate(ctx), in_person_document)
        staffscope.looked_up(uow, c, principal, "staff_precheck", mask_msisdn(msisdn), True, kind=kind,
                             in_person=bool(in_person_document and ctx.actor_may_end))
        uow.commit()  # the in-person check was counted (auth.count_id_check) and the look-up audited
        return result


def _staff_view(c, uow, principal: Principal, ctx: PrecheckContext, result: PrecheckResult,
                doc: dict | None) -> PrecheckResult:
    """Staff without the person's matching document learn NOT_OWNER and nothing else (no arrears,
    contract or balance of an arbitrary number); with it, the agent has verified the customer."""
    if not staffscope.is_staff(principal):
        return result
    if not ctx.actor_may_end:
        return staffscope.not_owner_only(result, ctx.lang)
    if doc:
        staffscope.remember_verified(uow, principal, ctx.line.customer_id, c.now())
    return result


TRACKING_DRAWS = 3  # tracking numbers drawn for one write before it counts as a conflict


class TrackingNoTaken(Exception):
    """The random tracking number just drawn is another request's: draw again (not the caller's conflict)."""


def create_request(c, principal: Principal, cmd: NewRequest) -> tuple[Request, bool]:
    """Returns (request, created). Same idempotency key + same body → the same request."""
    cmd.kind, cmd.msisdn = parse_kind(cmd.kind), parse_msisdn(cmd.msisdn)
    if cmd.reason is not None and len(cmd.reason) > 500:
        raise InvalidInput("reason is at most 500 characters", {"field": "reason"})
    if cmd.idempotency_key is not None and not (0 < len(cmd.idempotency_key) <= 200):
        raise InvalidInput("Idempotency-Key must be 1–200 characters", {"field": "Idempotency-Key"})
    body_hash = request_body_hash(cmd)
    for _ in range(TRACKING_DRAWS - 1):
        try:
            return _create_once(c, principal, cmd, body_hash)
        except TrackingNoTaken:
            continue
    return _create_once(c, principal, cmd, body_hash, last_draw=True)


def _create_once(c, principal: Principal, cmd: NewRequest, body_hash: str,
                 last_draw: bool = False) -> tuple[Request, bool]:
    now = c.now()
    with c.uow() as uow:
        if cmd.idempotency_key:
            existing = uow.repo.request_by_idempotency(principal.actor, cmd.idempotency_key)
            if existing is not None:
                if existing.body_hash != body_hash:
                    raise Conflict("this Idempotency-Key was used with a different body; use a new key",
                                   {"tracking_no": existing.tracking_no}, code="IDEMPOTENCY_KEY_REUSED")
                return existing, False
        line = visible_line(uow, principal, cmd.msisdn, snapshot=True)
        ctx = _context(c, uow, principal, cmd.kind, line, cmd.subscription_id, cmd.in_person_document, cmd.lang)
        result = _staff_view(c, uow, principal, ctx, evaluate(ctx), cmd.in_person_document)
        if ctx.open_request_tracking_no:
            raise Conflict(f"another open request {ctx.open_request_tracking_no} already covers this",
                           {"tracking_no": ctx.open_request_tracking_no}, code="OPEN_REQUEST")
        missing = [w for w in result.warning_codes if w not in cmd.acknowledged_warnings]
        if result.eligible and missing:
            raise InvalidInput("acknowledge these warnings first (acknowledged_warnings)",
                               {"missing": missing, "warnings": [w.as_dict() for w in result.warnings]},
                               code="WARNINGS_NOT_ACKNOWLEDGED")
        channel = cmd.channel or principal.channel
        req = new_request(c, principal, cmd, line, result, body_hash, now)
        if cmd.in_person_document and not principal.is_subscriber:
            _record_in_person(uow, principal, req, cmd.in_person_document, ctx.actor_may_end, now)
        if cmd.one_step and result.eligible and _needs_no_step_up(c, principal, req):
            _accept(c, req, principal, result, now, via=channel)  # one transaction, one "accepted" notice
        try:
            uow.repo.insert_request(req)  # as it stands, timeline and all
        except IntegrityConflict as exc:
            uow.rollback()
            if exc.key == "tracking_no" and not last_draw:
                raise TrackingNoTaken from None
            raise _race_conflict(c, principal, cmd) from None
        if not (cmd.confirm_follows and req.status == Status.AWAITING_CONFIRMATION):
            _notify_state(c, uow, req, now, result, lang=cmd.lang, via=channel)
        if req.kind == RequestKind.CLOSE_LINE and req.status != Status.REJECTED:
            # SIM-swap aware: announced on the owner's other lines too, not only on the number closing
            alerts.announce(uow, customer_id=req.customer_id, msisdn=req.msisdn, event="closure_requested",
                            ref=req.tracking_no, at=now, dedup=f"{req.id}:closure_requested",
                            lang=req.lang or c.pack.locale)
        uow.commit()
    if req.status == Status.EXECUTING:
        c.enqueue_execution(req.id)
    return req, True


def _needs_no_step_up(c, principal: Principal, req: Request) -> bool:
    if not principal.may_confirm(req.requested_by):
        return False
    return not (principal.is_subscriber and c.pack.step_up_factors(req.kind))


def new_request(c, principal: Principal, cmd: NewRequest, line: Line, result: PrecheckResult, body_hash: str,
                now, cls: type[Request] = Request) -> Request:
    """The request as pre-checked: awaiting confirmation when eligible, rejected (with its codes) when not.
    `cls`: Request, or the store's twin of it for requests it writes itself (Repository.unsaved_request_class)."""
    owner = line.customer_id if cmd.kind != "reclaim" else (line.former_customer_id or line.customer_id)
    channel = cmd.channel or principal.channel
    req = cls(id=str(uuid.uuid4()), tracking_no=new_tracking_no(now), kind=cmd.kind, msisdn=cmd.msisdn,
                  customer_id=owner, channel=channel, requested_by=principal.actor, created_at=now,
                  subscription_id=cmd.subscription_id, reason=cmd.reason, idempotency_key=cmd.idempotency_key,
                  body_hash=body_hash, impact=result.impact, acknowledged_warnings=list(cmd.acknowledged_warnings),
                  deadline_at=now + timedelta(minutes=c.pack.deadline_minutes(cmd.kind)), batch_id=cmd.batch_id,
                  lang=cmd.lang if cmd.lang in ("zh", "en") else None)
    req.start(now, principal.actor, channel)
    if result.eligible:
        req.transition(Status.CHECKED, now, "system", channel, "pre-checks passed")
        req.transition(Status.AWAITING_CONFIRMATION, now, "system", channel, "impact shown, waiting for confirmation")
    else:
        codes = [b.code for b in result.blockers]
        req.reject_codes = codes
        req.transition(Status.REJECTED, now, "system", channel, ",".join(codes))
    return req


def _accept(c, req: Request, principal: Principal, result: PrecheckResult, now, via: str | None = None) -> None:
    """Confirmed by this principal; `via`: the channel the confirmation came by (default: the principal's)."""
    accept(c, req, result, principal.actor, via or principal.channel, now)


def accept(c, req: Request, result: PrecheckResult, actor: str, via: str, now) -> None:
    """A confirmed, still eligible request: into review above the pack's refund threshold, else executing."""
    req.impact = result.impact
    req.deadline_at = now + timedelta(minutes=c.pack.deadline_minutes(req.kind))  # promised from acceptance
    threshold = c.pack.review_refund_over
    refund = (result.settlement.refund if result.settlement else 0)
    if threshold is not None and refund > threshold:
        req.transition(Status.IN_REVIEW, now, actor, via, f"refund {refund} over review threshold {threshold}")
    else:
        req.transition(Status.EXECUTING, now, actor, via, "confirmed")


def _record_in_person(uow, principal: Principal, req: Request, doc: dict, matched: bool, now) -> None:
    """The agent's in-person ID check, kept with the request (type, masked number, result, store)."""
    from canceldesk.domain.identifiers import mask_id, mask_msisdn
    audit.record(uow, at=now, actor=principal.actor, event="in_person_id_check", subject=req.tracking_no,
                 details={"document_type": str(doc.get("type"))[:40], "document_masked": mask_id(str(doc.get("number"))[:40]),
                          "match": bool(matched), "store": principal.store, "line": mask_msisdn(req.msisdn)})


def _race_conflict(c, principal, cmd: NewRequest) -> Conflict:
    """Two requests raced for one target: the unique open_target index let exactly one in."""
    with c.uow() as uow:
        if cmd.idempotency_key:
            same = uow.repo.request_by_idempotency(principal.actor, cmd.idempotency_key)
            if same is not None:
                return Conflict("this Idempotency-Key is being used by a concurrent call; retry",
                                {"tracking_no": same.tracking_no}, code="IDEMPOTENCY_KEY_REUSED")
        target = Request.target_of(cmd.kind, cmd.msisdn, cmd.subscription_id)
        other = uow.repo.open_request_on(target)
        no = other.tracking_no if other else None
        return Conflict(f"another open request {no} already covers this", {"tracking_no": no}, code="OPEN_REQUEST")




def owned_request(uow, principal: Principal, tracking_no: str, detached: bool = False) -> Request:
    """`detached`: read for a change written at the unit of work's commit (Repository.request_detached)."""
    well_formed = isinstance(tracking_no, str) and len(tracking_no) <= 40 and tracking_no.isascii() and tracking_no.isalnum()
    read = uow.repo.request_detached if detached else uow.repo.request
    req = read(tracking_no) if well_formed else None
    if req is None:
        raise NotFound("no such request")
    if principal.is_subscriber:
        if req.customer_id != principal.id:
            raise NotFound("no such request")
    elif principal.role == "agent":
        if not principal.acted_at_own_store(req.requested_by):  # counter requests stay with their store
            raise NotFound("no such request")
    elif principal.role == "enterprise_admin":
        if req.customer_id != principal.enterprise_id:  # the enterprise's own requests, not the number's
            raise NotFound("no such request")
    elif principal.role not in STAFF_ROLES:
        raise NotFound("no such request")
    return req


def get_request(c, principal: Principal, tracking_no: str) -> Request:
    with c.uow() as uow:
        return owned_request(uow, principal, tracking_no)


def _check_step_up(c, uow, principal: Principal, req: Request, verification: dict | None) -> None:
    stepup.check(c, uow, principal, req, verification)


def confirm(c, principal: Principal, tracking_no: str, verification: dict | None = None, lang: str = "zh",
            channel: str | None = None) -> Request:
    now = c.now()
    via = channel or principal.channel  # the channel the confirmation came by (sms, ivr, assistant override)
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no, detached=True)
        if req.status != Status.AWAITING_CONFIRMATION:
            raise Conflict(f"request {req.tracking_no} is '{req.status}', not awaiting confirmation",
                           {"status": req.status}, code="INVALID_STATE")
        if not principal.may_confirm(req.requested_by):
            raise Forbidden("only the person, their enterprise admin or the counter that took the request confirms it")
        _check_step_up(c, uow, principal, req, verification)
        # The facts may have changed since the impact was shown (a new bill, a port-out): check again.
        line = uow.repo.snapshots.line(req.msisdn)
        ctx = _context(c, uow, principal, req.kind, line, req.subscription_id, None, lang, ignore_request=req.id)
        if not principal.is_subscriber and principal.role in STAFF_ROLES:
            ctx.actor_may_end = True  # the in-person check was recorded when the agent submitted
        result = evaluate(ctx)
        if not result.eligible:
            req.reject_codes = [b.code for b in result.blockers]
            req.transition(Status.REJECTED, now, principal.actor, via, ",".join(req.reject_codes))
            _notify_state(c, uow, req, now, result, lang=lang)
            uow.commit()
            return req
        _accept(c, req, principal, result, now, via=via)
        _notify_state(c, uow, req, now, lang=lang, via=via)
        uow.commit()
    if req.status == Status.EXECUTING:
        c.enqueue_execution(req.id)
    return req


def review(c, principal: Principal, tracking_no: str, approve: bool, reason: str | None) -> Request:
    if not may(principal, "review"):
        raise Forbidden("only reviewers decide reviews")
    if not approve and not reason:
        raise InvalidInput("a rejection needs a reason", {"field": "reason"})
    now = c.now()
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        if req.status != Status.IN_REVIEW:
            raise Conflict(f"request {req.tracking_no} is '{req.status}', not in review", code="INVALID_STATE")
        if approve:
            req.transition(Status.EXECUTING, now, principal.actor, "staff", reason or "approved")
        else:
            req.reject_codes = ["REVIEW_REJECTED"]
            req.transition(Status.REJECTED, now, principal.actor, "staff", reason)
        notify_state(c, uow, req, now, detail=reason or "")
        uow.commit()
    if req.status == Status.EXECUTING:
        c.enqueue_execution(req.id)
    return req


def withdraw(c, principal: Principal, tracking_no: str) -> Request:
    now = c.now()
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        if not req.can_withdraw:
            raise Conflict(f"request {req.tracking_no} is '{req.status}'; it can only be withdrawn before execution",
                           {"status": req.status}, code="INVALID_STATE")
        req.transition(Status.WITHDRAWN, now, principal.actor, principal.channel, "withdrawn by requester")
        notify_state(c, uow, req, now)
        uow.commit()
        return req
