"""Set-based intake of a batch's items: many requests created and confirmed in one transaction.

Each item becomes exactly the request `selfservice.end_in_one_step` would make — the same
visibility rule (`requests.visible_line`'s), the same pre-check (`domain.prechecks.evaluate` on the
same context), the same open-request and warning rules, the same Request and transitions
(`requests.new_request`, `requests.accept`) — but the facts of a chunk of lines are read in a few
statements, and the requests and their timelines (never in the session: `Repository.insert_requests`,
one COPY each on PostgreSQL, handed to the audit chain as a flush would), their notices and the
items' outcomes are written at the end of the transaction. The confirmation follows at once (no "needs
your action" notice, as when the caller confirms in the same breath: `NewRequest.confirm_follows`). A
unique-key conflict on writing (another request raced for a target) falls back to the one-by-one
path for that chunk, which names the conflict per item.
"""
from __future__ import annotations

import logging

from canceldesk.domain.errors import IntegrityConflict
from canceldesk.domain.lifecycle import RequestKind, Status, covering_request
from canceldesk.domain.prechecks import PrecheckContext, evaluate

from . import requests
from .errors import Conflict, InvalidInput, NotFound, ServiceError
from .principal import Principal

log = logging.getLogger("canceldesk.intake")


def _one(c, uow, principal: Principal, cmd: requests.NewRequest, facts: dict, now):
    """The request for one item, or the ServiceError create_request/confirm would have raised."""
    line = facts["lines"].get(cmd.msisdn)
    if line is None:
        requests.parse_msisdn(cmd.msisdn)  # a malformed number says so, as create_request does
        raise NotFound("no such line")
    if line.customer_id != principal.enterprise_id:  # requests.visible_line's rule for an enterprise admin
        raise NotFound("no such line")
    subs = facts["subs"].get(cmd.msisdn, [])
    if RequestKind(cmd.kind).targets_subscription:
        if not cmd.subscription_id:
            raise InvalidInput(f"{cmd.kind} needs subscription_id", {"field": "subscription_id"})
        if not any(s.id == cmd.subscription_id for s, _ in subs):
            raise NotFound("no such subscription on this line")
    open_on_line = facts["open"].setdefault(cmd.msisdn, [])
    open_no = covering_request(cmd.kind, cmd.subscription_id, open_on_line)
    ctx = PrecheckContext(
        kind=cmd.kind, line=line, subscriptions=subs, pack=c.pack, now=now, subscription_id=cmd.subscription_id,
        actor_may_end=line.customer_id == principal.enterprise_id, open_request_tracking_no=open_no,
        active_secondary_lines=facts["secondaries"].get(cmd.msisdn, []) if cmd.kind == "close_line" else [],
        lang=cmd.lang)
    result = evaluate(ctx)
    if open_no:
        raise Conflict(f"another open request {open_no} already covers this", {"tracking_no": open_no},
                       code="OPEN_REQUEST")
    missing = [w for w in result.warning_codes if w not in cmd.acknowledged_warnings]
    if result.eligible and missing:
        raise InvalidInput("acknowledge these warnings first (acknowledged_warnings)",
                           {"missing": missing, "warnings": [w.as_dict() for w in result.warnings]},
                           code="WARNINGS_NOT_ACKNOWLEDGED")
    req = requests.new_request(c, principal, cmd, line, result, requests.request_body_hash(cmd), now,
                               facts["cls"])
    if req.status == Status.AWAITING_CONFIRMATION:
        # confirm(): the same facts in the same transaction, so the second look is this evaluation
        requests.accept(c, req, result, principal.actor, principal.channel, now)
        requests.notify_state(c, uow, req, now)
    else:
        requests.notify_state(c, uow, req, now, result)
    facts["new"].append(req)  # written at once, outside the session (Repository.insert_requests)
    open_on_line.append(req)
    return req


def submit_many(c, principal: Principal, items: list[tuple[int, requests.NewRequest]]) -> list[str] | None:
    """Create and confirm the requests of `items` ((batch_item id, command) pairs) in one transaction.
    Returns the ids of the requests now executing (for the caller to queue), or None when the caller
    must go one by one (a race at flush; a principal other than an enterprise admin or partner).
    A tracking number drawn twice (32 random bits a day: about once in 100,000 requests of one day)
    is no race: the chunk is made again with new numbers, not handed to the slow one-by-one path."""
    if principal.role != "enterprise_admin" or not items:
        return None
    for _, cmd in items:
        cmd.kind = requests.parse_kind(cmd.kind)  # the number: a line's own key, or checked in _one
    for _ in range(requests.TRACKING_DRAWS):
        try:
            return _submit_once(c, principal, items)
        except requests.TrackingNoTaken:
            continue
    return None


def _submit_once(c, principal: Principal, items: list[tuple[int, requests.NewRequest]]) -> list[str] | None:
    now = c.now()
    msisdns = {cmd.msisdn for _, cmd in items}
    outcomes: list[dict] = []
    executing: list[str] = []
    with c.uow() as uow:
        repo = uow.repo
        existing = repo.requests_by_idempotency_many(principal.actor, [cmd.idempotency_key for _, cmd in items
                                                                       if cmd.idempotency_key])
        facts = {"lines": repo.lines_to_read(msisdns), "subs": repo.subscriptions_with_products_of_many(msisdns),
                 "open": repo.open_requests_on_lines(msisdns), "secondaries": repo.active_secondaries_of_many(msisdns),
                 "new": [], "cls": repo.unsaved_request_class()}
        repo.buffer_writes()  # the notices: one executemany at the end (the engine's group commit)
        with uow.no_autoflush():
            _all(c, uow, principal, items, existing, facts, now, outcomes, executing)
        try:
            repo.insert_requests(facts["new"])  # the requests and their timelines: one COPY each
            repo.write_buffered()
            uow.flush()
        except IntegrityConflict as exc:
            uow.rollback()
            if exc.key == "tracking_no":
                log.info("a chunk of %d drew a taken tracking number: made again with new ones", len(items))
                raise requests.TrackingNoTaken from None
            log.warning("a chunk of %d raced another writer (%s): its items go one by one", len(items), exc)
            return None
        uow.batches.set_item_outcomes(outcomes)
        uow.commit()
    return executing


def _all(c, uow, principal, items, existing, facts, now, outcomes: list, executing: list) -> None:
    for item_id, cmd in items:
        try:
            same = existing.get(cmd.idempotency_key or "")
            if same is not None:  # a resumed chunk: the request made last time
                if same.body_hash != requests.request_body_hash(cmd):
                    raise Conflict("this Idempotency-Key was used with a different body; use a new key",
                                   {"tracking_no": same.tracking_no}, code="IDEMPOTENCY_KEY_REUSED")
                req = same
            else:
                req = _one(c, uow, principal, cmd, facts, now)
                if req.status == Status.EXECUTING:
                    executing.append(req.id)
            outcomes.append({"id": item_id, "request_id": req.id, "tracking_no": req.tracking_no})
        except ServiceError as exc:
            outcomes.append({"id": item_id, "error_code": exc.code[:40], "error_message": exc.message[:500]})
