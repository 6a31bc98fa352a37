"""Runs a request's saga: one step at a time, each recorded before and after it runs.

A step's local effects and its "done" mark commit in one transaction; its downstream call is
keyed by (request, step), so a retry after a crash or a lost reply never acts twice.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from canceldesk.adapters.downstream import PermanentError, TransientError
from canceldesk.domain.execution import Step, StepRecord, StepStatus, plan_for
from canceldesk.domain.lifecycle import RequestKind, Status
from canceldesk.domain.model import LineStatus, SubscriptionStatus
from canceldesk.domain.prechecks import local_today, midnight
from canceldesk.domain.settlement import (settle_close_line, settle_nothing, settle_refund_payment,
                                          settle_unsubscribe, settle_withdrawal)

from . import receipts
from .notifications import notify

log = logging.getLogger("canceldesk.executor")
MAX_ATTEMPTS = 6


class RetryLater(Exception):
    def __init__(self, step: str, attempts: int, error: str):
        super().__init__(f"{step} attempt {attempts}: {error}")
        self.step, self.attempts, self.error = step, attempts, error


def backoff_seconds(attempts: int, rng=None) -> float:
    """Exponential backoff with full jitter: 1, 2, 4, 8 … seconds (capped at 5 min), randomised."""
    import random
    cap = min(300.0, 2.0 ** max(0, attempts - 1))
    return (rng or random).uniform(cap / 2, cap)


def execute(c, request_id: str) -> str:
    """Advance the request as far as it goes. Raises RetryLater on a transient downstream error."""
    with c.uow() as uow:
        req = uow.repo.request_by_id(request_id)
        if req is None or req.status != Status.EXECUTING:
            return req.status if req else "missing"
        kind = req.kind
        done = {s for s, r in uow.repo.steps(request_id).items() if r.status == StepStatus.DONE}
    for step in plan_for(kind):
        if step in done:
            continue
        _run_step(c, request_id, step)
    return _complete(c, request_id)


def _begin_step(c, request_id: str, step: str) -> int:
    now = c.now()
    with c.uow() as uow:
        rec = uow.repo.steps(request_id).get(step)
        if rec is None:
            rec = StepRecord(request_id=request_id, step=step, status=StepStatus.STARTED, attempts=1, started_at=now)
            uow.repo.add(rec)
        else:
            rec.attempts += 1
            rec.status = StepStatus.STARTED
            rec.started_at = now
        try:
            uow.commit()
        except IntegrityError:  # another worker is on this step right now
            raise RetryLater(step, 0, "step taken by another worker") from None
        return rec.attempts


def _run_step(c, request_id: str, step: str) -> None:
    attempts = _begin_step(c, request_id, step)
    try:
        result = _downstream(c, request_id, step)
    except TransientError as exc:
        _step_error(c, request_id, step, str(exc), final=attempts >= MAX_ATTEMPTS)
        if attempts >= MAX_ATTEMPTS:
            raise PermanentError(f"{step}: gave up after {attempts} attempts ({exc})") from None
        raise RetryLater(step, attempts, str(exc)) from None
    except PermanentError as exc:
        _step_error(c, request_id, step, str(exc), final=True)
        raise
    with c.uow() as uow:
        req = uow.repo.request_by_id(request_id)
        rec = uow.repo.steps(request_id)[step]
        local = _local_effects(c, uow, req, step, result)
        rec.status = StepStatus.DONE
        rec.finished_at = c.now()
        rec.error = None
        rec.result = {**(result or {}), **(local or {})}
        uow.commit()


def _step_error(c, request_id: str, step: str, error: str, final: bool) -> None:
    now = c.now()
    with c.uow() as uow:
        rec = uow.repo.steps(request_id).get(step)
        if rec is not None:
            rec.error = error[:500]
            rec.status = StepStatus.FAILED if final else StepStatus.STARTED
        if final:
            fail_request(c, uow, request_id, f"{step}: {error}"[:500], now)
        uow.commit()


def fail_request(c, uow, request_id: str, failure: str, now) -> None:
    """Execution could not finish: the request is escalated to a person and the subscriber told."""
    req = uow.repo.request_by_id(request_id)
    if req is None or req.status != Status.EXECUTING:
        return
    req.failure = failure
    req.transition(Status.FAILED, now, "system", "worker", failure)
    new_eta = now + timedelta(hours=24)
    notify(uow.repo, to=req.msisdn, event="escalated", ref=req.tracking_no, at=now, dedup=f"{req.id}:escalated:{len(req.timeline)}",
           kind=req.kind, deadline=f"{new_eta.astimezone(ZoneInfo(c.pack.timezone)):%Y-%m-%d %H:%M}")
    log.warning("request %s failed at %s; escalated", req.tracking_no, failure.split(":")[0])


def _settle_result(uow, request_id: str) -> dict:
    rec = uow.repo.steps(request_id).get(Step.SETTLE)
    return (rec.result or {}) if rec else {}


def _downstream(c, request_id: str, step: str) -> dict | None:
    """The outside call of a step (if any). Runs outside any database transaction."""
    with c.uow() as uow:
        req = uow.repo.request_by_id(request_id)
        subs = uow.repo.subscriptions_with_products(req.msisdn)
        settle = _settle_result(uow, request_id)
    key = f"{request_id}:{step}"
    if step == Step.BAR_NETWORK:
        return {"provisioning_ref": c.provisioning.bar_line(req.msisdn, key)}
    if step == Step.RESTORE_NUMBER:
        return {"provisioning_ref": c.provisioning.restore_line(req.msisdn, key)}
    if step == Step.STOP_PARTNER:
        refs = {}
        for sub, product in subs:
            if not sub.is_active or not product.partner:
                continue
            if req.kind == RequestKind.CLOSE_LINE or sub.id == req.subscription_id:
                if req.kind == RequestKind.UNSUBSCRIBE and product.unsubscribe_effect != "immediate":
                    refs[sub.id] = c.partners.stop_renewal(sub.id, product.code, f"{key}:{sub.id}")
                else:
                    refs[sub.id] = c.partners.stop_service(sub.id, product.code, f"{key}:{sub.id}")
        return {"partner_refs": refs}
    if step == Step.STOP_RENEWAL:
        sub, product = next((s, p) for s, p in subs if s.id == req.subscription_id)
        ref = c.partners.stop_renewal(sub.id, product.code, key) if product.partner else None
        return {"partner_ref": ref}
    if step == Step.REFUND:
        amount = settle.get("refund", 0)
        if amount <= 0:
            return {"paid": 0}
        ref = c.payments.refund(key=key, msisdn=req.msisdn, amount=amount, currency=settle.get("currency", "CNY"),
                                method="original")
        return {"paid": amount, "payment_ref": ref}
    return None


def _local_effects(c, uow, req, step: str, result: dict | None) -> dict | None:
    now = c.now()
    line = uow.repo.line(req.msisdn)
    if step == Step.SETTLE:
        today = local_today(now, c.pack)
        subs = uow.repo.subscriptions_with_products(req.msisdn)
        if req.kind == RequestKind.CLOSE_LINE:
            etf = line.contract_fee if (line.contract_runs_on(today) and (
                line.contract_early_termination == "fee" or c.pack.contract_lock == "fee")) else 0
            inst = line.installment_due if c.pack.installment == "fee" else 0
            s = settle_close_line(line, subs, today, etf, inst, c.pack.processing_fee, line.currency)
            line.cash_balance = line.deposit = line.unbilled_usage = line.gift_balance = 0
            if inst:
                line.installment_due = 0
        else:
            sub, product = next(((s_, p) for s_, p in subs if s_.id == req.subscription_id), (None, None))
            if req.kind == RequestKind.UNSUBSCRIBE:
                s = settle_unsubscribe(sub, product, today, product.currency)
            elif req.kind == RequestKind.WITHDRAW:
                s = settle_withdrawal(sub, product, today, product.currency)
            else:
                s = settle_nothing(product.currency)
        uow.repo.add_ledger(req.id, "settle", s.ledger, s.currency, now)
        return {"refund": s.refund, "currency": s.currency, "refund_lines": [r.as_dict() for r in s.refund_lines],
                "fees": s.fees, "gift_forfeited": s.forfeited_gift}
    if step == Step.REFUND:
        paid = (result or {}).get("paid", 0)
        if paid:
            key = f"{req.id}:refund"
            if uow.repo.payment(key) is None:  # no money moves twice
                currency = _settle_result(uow, req.id).get("currency", "CNY")
                uow.repo.add_payment(idempotency_key=key, request_id=req.id, amount=paid, currency=currency,
                                     method="original", reference=result.get("payment_ref"), at=now)
                p = settle_refund_payment(paid, "original", currency)
                uow.repo.add_ledger(req.id, "refund_payment", p.ledger, currency, now)
        return None
    if step == Step.END_SUBSCRIPTIONS:
        for sub, product in uow.repo.subscriptions_with_products(req.msisdn):
            if not sub.is_active:
                continue
            if req.kind == RequestKind.CLOSE_LINE or (req.kind in (RequestKind.WITHDRAW,) and sub.id == req.subscription_id):
                sub.status, sub.auto_renew, sub.access_ends_at, sub.ended_at = SubscriptionStatus.ENDED, False, now, now
            elif sub.id == req.subscription_id and req.kind == RequestKind.UNSUBSCRIBE:
                sub.auto_renew = False
                if product.unsubscribe_effect == "immediate":
                    sub.status, sub.access_ends_at, sub.ended_at = SubscriptionStatus.ENDED, now, now
                else:
                    sub.status, sub.access_ends_at = SubscriptionStatus.ENDING, midnight(sub.period_end, c.pack)
            elif sub.id == req.subscription_id and req.kind == RequestKind.CANCEL_RENEWAL:
                sub.auto_renew = False
                sub.access_ends_at = midnight(sub.period_end, c.pack)
        return None
    if step == Step.FREEZE_NUMBER:
        line.status = LineStatus.FROZEN
        line.closed_at = now
        line.frozen_until = now + timedelta(days=c.pack.freeze_days)
        line.former_customer_id = line.customer_id
        return {"frozen_until": line.frozen_until.isoformat()}
    if step == Step.RESTORE_NUMBER:
        line.status = LineStatus.ACTIVE
        line.closed_at = None
        line.frozen_until = None
        line.customer_id = req.customer_id
        return None
    if step == Step.ISSUE_RECEIPT:
        return receipts.issue(c, uow, req, now)
    return None


def _complete(c, request_id: str) -> str:
    now = c.now()
    with c.uow() as uow:
        req = uow.repo.request_by_id(request_id)
        if req.status != Status.EXECUTING:
            return req.status
        req.transition(Status.COMPLETED, now, "system", "worker", "all steps done")
        receipt = uow.repo.receipt(req.id)
        settle = _settle_result(uow, req.id)
        refund = settle.get("refund", 0)
        detail = f"退款 ¥{refund // 100}.{refund % 100:02d} 将原路退回。" if refund > 0 else ""
        if req.kind == RequestKind.CLOSE_LINE:
            detail += f"号码冻结 {c.pack.freeze_days} 天，期内可找回。"
        notify(uow.repo, to=req.msisdn, event="completed", ref=req.tracking_no, at=now, dedup=f"{req.id}:completed",
               kind=req.kind, detail=detail, code=receipt["verification_code"] if receipt else "")
        uow.commit()
        return req.status
