"""Runs a request's saga (domain/execution.py): one step at a time, each recorded in the step log.

How a run goes, transaction by transaction:

1. Lock the request row, take its lease (one live run per request), then do every step that
   needs no outside call — its local effects and its `done` mark commit together — up to the
   first step that does. That step is marked `started` (attempt n) and the transaction commits.
2. The downstream call runs outside any transaction, keyed by (request, step): a retry after a
   crash or a lost reply meets what the remote side already did, so nothing acts twice (a refund
   is paid once).
3. The call's result, its local effects and the `done` mark commit together; go back to 1.

A transient error is retried with exponential backoff and jitter (the queue re-runs the request
later: `RetryLater.delay`) until `retry_max_attempts`; then — or on a permanent error — the
request becomes `failed`, is escalated to staff and the subscriber is told (escalations.py).
A worker that dies mid-run leaves a lapsed lease; the sweeper resumes the request.
"""
from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from canceldesk.domain.ending import end_subscriptions
from canceldesk.domain.errors import PermanentError, StoreBusy, TransientError
from canceldesk.domain.execution import Step, StepRecord, StepStatus, backoff_seconds, plan_for
from canceldesk.domain.lifecycle import Request, RequestKind, Status
from canceldesk.domain.model import LineStatus, SubscriptionStatus
from canceldesk.domain.prechecks import local_today
from canceldesk.domain.settlement import installment_fee, settle_refund_payment, settlement_for

from . import escalations, numbers, receipts
from .notifications import completion_detail, notify

log = logging.getLogger("canceldesk.executor")
BUSY = "busy"  # another live run holds the request: this one steps aside


class RetryLater(Exception):
    """Transient trouble: run the request again after `delay` seconds."""

    def __init__(self, step: str, attempts: int, error: str, delay: float = 1.0):
        super().__init__(f"{step} attempt {attempts}: {error}; retry in {delay:.1f}s")
        self.step, self.attempts, self.error, self.delay = step, attempts, error, delay


class PartialProgress(TransientError):
    """Some of a step's calls went through before one failed: keep what was done for the retry."""

    def __init__(self, error: str, result: dict):
        super().__init__(error)
        self.result = result


@dataclass
class Call:
    step: str
    attempts: int
    args: dict


def execute(c, request_id: str) -> str:
    """Advance the request as far as it goes; returns its status (or BUSY). Raises RetryLater."""
    run = uuid.uuid4().hex[:16]
    done: tuple[str, dict] | None = None
    while True:
        try:
            outcome = _advance(c, request_id, run, done)
        except StoreBusy as exc:
            # A concurrent run or a locked database: harmless, the step log is intact — try again soon.
            raise RetryLater("lock", 0, str(exc), delay=random.uniform(0.05, 0.5)) from None
        if not isinstance(outcome, Call):
            return outcome
        try:
            result = call_downstream(c, request_id, outcome)
        except TransientError as exc:
            return _transient(c, request_id, outcome, str(exc), getattr(exc, "result", None))
        except PermanentError as exc:
            return _give_up(c, request_id, outcome.step, str(exc))
        done = (outcome.step, result)


# --- the transaction of step 1 / 3 -----------------------------------------------------------------
class _Run:
    """What one transaction of a run knows: the locked request, its step log, lazily its line."""

    def __init__(self, c, uow, req: Request, now, steps: dict[str, StepRecord] | None = None,
                 group: "GroupCache | None" = None):
        self.c, self.uow, self.req, self.now, self.group = c, uow, req, now, group
        self.steps: dict[str, StepRecord] = uow.runs.steps_of_many([req.id])[req.id] if steps is None else steps
        self._line = None
        self._subs = group.subs.get(req.msisdn) if group is not None else None

    @property
    def line(self):
        if self._line is None:
            self._line = self.group.line_of(self.req.msisdn) if self.group is not None else None
            if self._line is None:
                self._line = self.uow.repo.line(self.req.msisdn)
        return self._line

    @property
    def subs(self):
        if self._subs is None:
            self._subs = self.uow.repo.subscriptions_with_products(self.req.msisdn)
        return self._subs

    def settled(self) -> dict:
        rec = self.steps.get(Step.SETTLE)
        return (rec.result or {}) if rec else {}

    def target(self):
        return next(((s, p) for s, p in self.subs if s.id == self.req.subscription_id), (None, None))

    def mark_done(self, step: str, result: dict | None) -> None:
        rec = self.steps.get(step)
        if rec is None:
            rec = StepRecord.done_locally(self.req.id, step, self.now, result)
            self.uow.runs.add_step(rec)
            self.steps[step] = rec
        else:
            rec.finish(self.now, result)


@dataclass
class GroupCache:
    """What a group transaction loads once for all its requests (engine.py): their subscriptions
    with products, the receipts already issued, and the requests finished in it (their leases and
    escalations are closed by one statement each)."""
    subs: dict[str, list]
    receipts: dict[str, str]
    finished: list[str]
    payments: set[str]
    # the lines of the group's close_line / reclaim requests and which are admin logins (the freeze
    # ends those): one SELECT each for the group, when a request of the round first needs them
    # (`line_of`, `is_admin_login`) — a round that only starts or records a call reads neither.
    lines: dict | None = None
    admin_logins: set[str] | None = None
    uow: object = None
    line_numbers: set[str] | None = None
    alone: bool = False  # one request in the round: its receipt code is checked against the others' (receipts.issue)

    def line_of(self, msisdn: str):
        if self.lines is None and self.line_numbers:
            self.lines = self.uow.runs.lines_of_many(self.line_numbers)  # Core: the store's commit writes them
        return self.lines.get(msisdn) if self.lines else None

    def is_admin_login(self, msisdn: str) -> bool:
        if self.admin_logins is None:
            if self.uow is None:  # no line noted for this group: the freeze asks for itself
                return True
            self.admin_logins = numbers.admin_login_numbers(self.uow, self.line_numbers or {msisdn})
        return msisdn in self.admin_logins


LINE_KINDS = (RequestKind.CLOSE_LINE, RequestKind.RECLAIM)


def load_lines(uow, group: GroupCache, live: list[Request]) -> None:
    """Note, for a whole group, the lines its line-ending requests may read: read at once when one
    of them first needs its line (GroupCache.line_of), not before."""
    msisdns = {r.msisdn for r in live if r.kind in LINE_KINDS}
    if msisdns:
        group.uow, group.line_numbers = uow, msisdns


def _advance(c, request_id: str, run_id: str, done: tuple[str, dict] | None) -> str | Call:
    now = c.now()
    with c.uow() as uow:
        req = uow.runs.locked_request(request_id)
        if req is None:
            return "missing"
        if req.status != Status.EXECUTING:
            uow.runs.drop_leases([request_id])
            uow.runs.commit()
            return req.status
        if not uow.runs.claim_lease(request_id, run_id, now, c.settings.lease_seconds):
            return BUSY
        outcome = advance_locked(c, uow, req, done, now)
        uow.runs.commit()  # a step marked `started` is recorded before it runs
        return outcome


def advance_locked(c, uow, req: Request, done: tuple[str, dict] | None, now,
                   steps: dict[str, StepRecord] | None = None, group: GroupCache | None = None) -> str | Call:
    """One run's transaction for a locked, leased request: record the finished call `done`, do
    every local step, mark the next outside call `started`. Never commits (the caller does, for
    one request or a whole group)."""
    run = _Run(c, uow, req, now, steps, group)
    if done is not None:
        step, result = done
        rec = run.steps.get(step)
        if rec is not None and rec.status != StepStatus.DONE:
            result = _merge(rec.result, result)
            local = _local_effects(run, step, result)
            run.mark_done(step, {**(result or {}), **(local or {})})
    for step in plan_for(req.kind):
        rec = run.steps.get(step)
        if rec is not None and rec.status == StepStatus.DONE:
            continue
        try:
            args = _call_for(run, step)
        except PermanentError as exc:
            escalations.fail_execution(c, uow, req, step, str(exc), now)
            return Status.FAILED
        if args is None:  # local only: effects and the done mark in this one transaction
            run.mark_done(step, _local_effects(run, step, None))
            continue
        attempts = rec.attempts if rec else 0
        if attempts >= c.settings.retry_max_attempts:
            escalations.fail_execution(c, uow, req, step,
                                       f"gave up after {attempts} attempts ({rec.error or 'interrupted'})", now)
            return Status.FAILED
        if rec is None:
            rec = StepRecord.begin(req.id, step, now)
            uow.runs.add_step(rec)
            run.steps[step] = rec
        else:
            rec.restart(now)
        return Call(step, rec.attempts, args)
    _complete(run)
    return Status.COMPLETED


def record_transient(c, uow, req: Request, rec: StepRecord | None, call: Call, error: str,
                     partial: dict | None, now) -> float | None:
    """A call failed and may succeed later: the delay before the next attempt, or None when the
    attempts are spent (the request is then failed and escalated). Never commits."""
    if rec is None:
        return backoff_seconds(call.attempts, base=c.settings.retry_base_seconds)
    rec.error = error[:500]
    if partial:
        rec.result = _merge(rec.result, partial)
    if rec.attempts >= c.settings.retry_max_attempts:
        _fail_step(rec, error)
        escalations.fail_execution(c, uow, req, call.step, f"gave up after {rec.attempts} attempts ({error})", now)
        return None
    return backoff_seconds(rec.attempts, base=c.settings.retry_base_seconds)


def record_permanent(c, uow, req: Request, rec: StepRecord | None, step: str, error: str, now) -> None:
    """The outside system refused: the step failed, the request is failed and escalated."""
    _fail_step(rec, error)
    escalations.fail_execution(c, uow, req, step, error, now)


def _fail_step(rec: StepRecord | None, error: str) -> None:
    if rec is None:
        return
    if rec.status == StepStatus.STARTED:
        rec.fail(error)
    else:  # already failed (or done): the error is noted, the state stays
        rec.error = error[:500]


def _transient(c, request_id: str, call: Call, error: str, partial: dict | None = None) -> str:
    now = c.now()
    with c.uow() as uow:
        req = uow.runs.locked_request(request_id)
        rec = uow.runs.steps_of_many([request_id])[request_id].get(call.step)
        if req is None or rec is None or req.status != Status.EXECUTING:
            return req.status if req else "missing"
        delay = record_transient(c, uow, req, rec, call, error, partial, now)
        if delay is None:
            uow.runs.commit()
            return Status.FAILED
        uow.runs.park_lease(request_id, now + timedelta(seconds=delay + c.settings.lease_seconds), now)
        uow.runs.commit()
    raise RetryLater(call.step, call.attempts, error, delay)


def _give_up(c, request_id: str, step: str, error: str) -> str:
    now = c.now()
    with c.uow() as uow:
        req = uow.runs.locked_request(request_id)
        rec = uow.runs.steps_of_many([request_id])[request_id].get(step)
        if req is not None:
            record_permanent(c, uow, req, rec, step, error, now)
        else:
            _fail_step(rec, error)
        uow.runs.commit()
        return req.status if req else "missing"


# --- what each step asks of the outside world, and what it changes here -----------------------------
def _call_for(run: _Run, step: str) -> dict | None:
    """The downstream call this step needs now (None: a local step). Read inside the transaction."""
    req = run.req
    if step == Step.BAR_NETWORK:
        return {"msisdn": req.msisdn}
    if step == Step.RESTORE_NUMBER:
        line = run.line
        if line is None or line.status != LineStatus.FROZEN:
            raise PermanentError(f"the number is {line.status if line else 'unknown'}, no longer frozen: "
                                 "it cannot be reclaimed")
        return {"msisdn": req.msisdn}
    if step == Step.STOP_PARTNER:
        rec = run.steps.get(step)
        done = ((rec.result or {}).get("partner_refs", {}) if rec else {})
        stops = []
        for sub, product in run.subs:
            if sub.id in done:
                continue
            if sub.status == SubscriptionStatus.ENDED or not product.partner:
                continue
            if req.kind == RequestKind.CLOSE_LINE or (sub.id == req.subscription_id and sub.is_active):
                soft = req.kind == RequestKind.UNSUBSCRIBE and product.unsubscribe_effect != "immediate"
                stops.append([sub.id, product.code, "stop_renewal" if soft else "stop"])
        if stops or done:
            return {"stops": stops}  # an empty list: every stop went through on earlier attempts
        return None
    if step == Step.STOP_RENEWAL:
        sub, product = run.target()
        return {"subscription_id": sub.id, "product": product.code} if product is not None and product.partner else None
    if step == Step.REFUND:
        settled = run.settled()
        amount = settled.get("refund", 0)
        if amount <= 0:
            return None
        return {"msisdn": req.msisdn, "amount": amount, "currency": settled.get("currency", "CNY")}
    return None


def _merge(earlier: dict | None, later: dict | None) -> dict:
    """A step's results across attempts: partner refs accumulate, the rest is the latest."""
    out = {**(earlier or {}), **(later or {})}
    if earlier and later and "partner_refs" in earlier:
        out["partner_refs"] = {**earlier["partner_refs"], **later.get("partner_refs", {})}
    return out


def call_downstream(c, request_id: str, call: Call) -> dict:
    """The outside call of a step. Runs outside any database transaction; keyed by request and step."""
    key, a = f"{request_id}:{call.step}", call.args
    if call.step == Step.BAR_NETWORK:
        return {"provisioning_ref": c.provisioning.bar_line(a["msisdn"], key)}
    if call.step == Step.RESTORE_NUMBER:
        return {"provisioning_ref": c.provisioning.restore_line(a["msisdn"], key)}
    if call.step == Step.STOP_PARTNER:
        refs = {}
        for sub_id, code, action in a["stops"]:
            stop = c.partners.stop_renewal if action == "stop_renewal" else c.partners.stop_service
            try:
                refs[sub_id] = stop(sub_id, code, f"{key}:{sub_id}")
            except TransientError as exc:
                if refs:
                    raise PartialProgress(str(exc), {"partner_refs": refs}) from None
                raise
        return {"partner_refs": refs}
    if call.step == Step.STOP_RENEWAL:
        return {"partner_ref": c.partners.stop_renewal(a["subscription_id"], a["product"], key)}
    if call.step == Step.REFUND:
        ref = c.payments.refund(key=key, msisdn=a["msisdn"], amount=a["amount"], currency=a["currency"],
                                method="original")
        return {"paid": a["amount"], "payment_ref": ref}
    raise PermanentError(f"step {call.step} has no downstream call")


def _local_effects(run: _Run, step: str, result: dict | None) -> dict | None:
    c, uow, req, now = run.c, run.uow, run.req, run.now
    if step == Step.SETTLE:
        return _settle(run)
    if step == Step.REFUND:
        paid = (result or {}).get("paid", 0)
        key = f"{req.id}:refund"
        known = (key in run.group.payments) if run.group is not None else uow.repo.payment(key) is not None
        if paid and not known:  # no money moves twice
            currency = run.settled().get("currency", "CNY")
            uow.repo.add_payment(idempotency_key=key, request_id=req.id, amount=paid, currency=currency,
                                 method="original", reference=result.get("payment_ref"), at=now)
            p = settle_refund_payment(paid, "original", currency)
            uow.repo.add_ledger(req.id, "refund_payment", p.ledger, currency, now)
        return None
    if step == Step.END_SUBSCRIPTIONS:
        _end_subscriptions(run)
        return None
    if step == Step.FREEZE_NUMBER:
        line = run.line
        line.close(now, c.pack.freeze_days, "system", "worker", req.id)
        if run.group is None or run.group.is_admin_login(line.msisdn):  # a closed number is no admin login any more
            numbers.end_admin_logins(uow, line.msisdn, now, c.pack.locale)
        return {"frozen_until": line.frozen_until.isoformat()}
    if step == Step.RESTORE_NUMBER:
        run.line.reclaim(now, req.customer_id, "system", "worker", req.id)
        return None
    if step == Step.ISSUE_RECEIPT:
        existing = run.group.receipts.get(req.id) if run.group is not None else None
        return receipts.issue(c, uow, req, now, steps=run.steps, existing=existing,
                              check_taken=run.group is None or run.group.alone)
    return None


def _settle(run: _Run) -> dict:
    c, req, now = run.c, run.req, run.now
    today = local_today(now, c.pack)
    line = run.line if req.kind == RequestKind.CLOSE_LINE else None
    s = settlement_for(req.kind, line, run.subs, req.subscription_id, today, c.pack)
    if line is not None:  # the line's balances are settled: released, charged or refunded
        line.cash_balance = line.deposit = line.unbilled_usage = line.gift_balance = 0
        if installment_fee(line, c.pack):
            line.installment_due = 0
    run.uow.repo.add_ledger(req.id, "settle", s.ledger, s.currency, now)
    return {"refund": s.refund, "currency": s.currency, "refund_lines": [r.as_dict() for r in s.refund_lines],
            "fees": s.fees, "gift_forfeited": s.forfeited_gift}


def _end_subscriptions(run: _Run) -> None:
    """What ending does to the line's subscriptions: the one domain rule (domain/ending.py)."""
    end_subscriptions(run.req.kind, run.req.subscription_id, run.subs, run.now, run.c.pack)


def _complete(run: _Run) -> None:
    c, uow, req, now = run.c, run.uow, run.req, run.now
    req.transition(Status.COMPLETED, now, "system", "worker", "all steps done")
    issued = run.steps.get(Step.ISSUE_RECEIPT)
    code = (issued.result or {}).get("verification_code") if issued is not None else None
    if code is None:
        receipt = uow.repo.receipt(req.id)
        code = receipt["verification_code"] if receipt else ""
    lang = req.lang or c.pack.locale
    detail = completion_detail(req.kind, run.settled().get("refund", 0), run.settled().get("currency", c.pack.currency),
                               c.pack.freeze_days, lang)
    if req.batch_id is None:  # a batch's admin gets one message for the batch (batches.py)
        notify(uow.repo, to=req.msisdn, event="completed", ref=req.tracking_no, at=now, dedup=f"{req.id}:completed",
               kind=req.kind, detail=detail, code=code, lang=lang, via=req.channel)
    if run.group is not None:
        run.group.finished.append(req.id)
    else:
        uow.runs.finish_runs([req.id], now)
