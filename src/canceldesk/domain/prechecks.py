"""Pre-checks: the same for every channel. Blockers stop a request; warnings need acknowledging.

`evaluate()` is pure: the service layer gathers the facts into a `PrecheckContext`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .access import local_today as local_today  # re-exported: one home in access.py
from .access import midnight as midnight
from .access import period_end_access
from .identifiers import mask_msisdn
from .lifecycle import RequestKind
from .messages import render
from .model import Line, LineStatus, Product, ProductKind, Subscription
from .policy import PolicyPack
from .settlement import BLOCKS, Settlement, early_termination_fee, installment_fee, settlement_for

STATUS_ZH = {"active": "正常", "suspended": "停机", "inactive": "未激活", "frozen": "已销户冻结", "recyclable": "已回收"}
# LINE_NOT_ACTIVE: "already closed, frozen, or never activated". A suspended line (停机) is none of
# these: it can still be closed or have services ended, once any arrears are paid.
NOT_ACTIVE = frozenset({LineStatus.INACTIVE, LineStatus.FROZEN, LineStatus.RECYCLABLE})
# Auto-renewals a subscriber bought; a plan's monthly cycle is not one (RENEWAL_IMMINENT on closure).
AUTO_RENEWING_KINDS = frozenset({ProductKind.MEMBERSHIP, ProductKind.VAS})


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    resolution: str
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "resolution": self.resolution, **({"details": self.details} if self.details else {})}


@dataclass
class PrecheckContext:
    kind: str
    line: Line
    subscriptions: list[tuple[Subscription, Product]]  # every subscription on the line
    pack: PolicyPack
    now: datetime
    subscription_id: str | None = None
    actor_may_end: bool = True           # False → NOT_OWNER (staff and enterprise contexts)
    open_request_tracking_no: str | None = None
    active_secondary_lines: list[str] = field(default_factory=list)
    lang: str = "zh"


@dataclass
class PrecheckResult:
    eligible: bool
    blockers: list[Finding]
    warnings: list[Finding]
    impact: dict
    settlement: Settlement | None

    @property
    def warning_codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def as_dict(self) -> dict:
        return {"eligible": self.eligible, "blockers": [b.as_dict() for b in self.blockers],
                "warnings": [w.as_dict() for w in self.warnings], "impact": self.impact}


def evaluate(ctx: PrecheckContext) -> PrecheckResult:
    kind = RequestKind(ctx.kind)
    lang = ctx.lang
    blockers: list[Finding] = []
    warnings: list[Finding] = []
    today = local_today(ctx.now, ctx.pack)
    line = ctx.line

    def block(code: str, details: dict | None = None, **params) -> None:
        msg, res = render(code, lang, **params)
        blockers.append(Finding(code, msg, res, details or {}))

    def warn(code: str, details: dict | None = None, **params) -> None:
        msg, res = render(code, lang, **params)
        warnings.append(Finding(code, msg, res, details or {}))

    if not ctx.actor_may_end:
        block("NOT_OWNER")
    if ctx.open_request_tracking_no:
        block("OPEN_REQUEST", {"tracking_no": ctx.open_request_tracking_no}, tracking_no=ctx.open_request_tracking_no)

    target: tuple[Subscription, Product] | None = None
    if kind.targets_subscription:
        target = next(((s, p) for s, p in ctx.subscriptions if s.id == ctx.subscription_id), None)
        if target is None:
            block("SUBSCRIPTION_REQUIRED")

    if kind == RequestKind.RECLAIM:
        in_window = (line.status == LineStatus.FROZEN and line.frozen_until is not None and ctx.now < line.frozen_until)
        if not in_window:
            block("NOT_RECLAIMABLE", status=_status_text(line.status, lang))
    elif line.status in NOT_ACTIVE:
        block("LINE_NOT_ACTIVE", {"status": line.status}, status=_status_text(line.status, lang))

    settlement: Settlement | None = None
    impact: dict = {"ends": [], "access_ends_at": None, "billing_ends_at": None,
                    "refund": {"amount": 0, "currency": line.currency, "lines": []}, "fees": []}

    if kind == RequestKind.CLOSE_LINE:
        settlement = _check_close_line(ctx, today, block, warn)
        impact["ends"] = [{"what": "line", "msisdn": line.msisdn}] + [
            {"what": "subscription", "id": s.id, "product": p.code, "name": p.name(lang)}
            for s, p in ctx.subscriptions if s.is_active]
        impact["access_ends_at"] = "on completion"
        impact["billing_ends_at"] = today.isoformat()
        impact["number_frozen_days"] = ctx.pack.freeze_days
    elif target is not None:
        sub, product = target
        if not sub.is_active:
            block("SUBSCRIPTION_NOT_ACTIVE")
        access_end = period_end_access(sub, ctx.pack)
        if kind == RequestKind.CANCEL_RENEWAL:
            if sub.is_active and not sub.auto_renew:
                block("RENEWAL_ALREADY_OFF", access_ends=access_end.date().isoformat())
            settlement = settlement_for(kind, line, ctx.subscriptions, sub.id, today, ctx.pack)
            impact["access_ends_at"] = access_end.isoformat()
            impact["billing_ends_at"] = sub.period_end.isoformat()
            impact["next_charge"] = None
        elif kind == RequestKind.UNSUBSCRIBE:
            settlement = settlement_for(kind, line, ctx.subscriptions, sub.id, today, ctx.pack)
            if product.unsubscribe_effect == "immediate":
                impact["access_ends_at"] = "on completion"
                impact["billing_ends_at"] = today.isoformat()
            else:
                impact["access_ends_at"] = access_end.isoformat()
                impact["billing_ends_at"] = sub.period_end.isoformat()
        elif kind == RequestKind.WITHDRAW:
            if not ctx.pack.offers_withdrawal:
                block("WITHDRAWAL_NOT_AVAILABLE")
            else:
                started = sub.started_on or sub.period_start
                last_day = started + timedelta(days=ctx.pack.withdrawal_days)
                if today > last_day:
                    block("WITHDRAWAL_WINDOW_CLOSED", deadline=last_day.isoformat(), days=ctx.pack.withdrawal_days)
            settlement = settlement_for(kind, line, ctx.subscriptions, sub.id, today, ctx.pack)
            impact["access_ends_at"] = "on completion"
            impact["billing_ends_at"] = today.isoformat()
        impact["ends"] = [{"what": "subscription" if kind != RequestKind.CANCEL_RENEWAL else "auto_renewal",
                           "id": sub.id, "product": product.code, "name": product.name(lang)}]
        if kind != RequestKind.WITHDRAW and sub.is_active and sub.auto_renew and _renews_within_24h(sub, ctx):
            warn("RENEWAL_IMMINENT", names=product.name(lang))
    elif kind == RequestKind.RECLAIM:
        impact["ends"] = [{"what": "freeze", "msisdn": line.msisdn}]
        impact["access_ends_at"] = None

    if settlement is not None:
        impact["refund"] = settlement.impact_refund(lang)
        impact["fees"] = settlement.fees
        if settlement.forfeited_gift:
            impact["gift_forfeited"] = settlement.forfeited_gift
    return PrecheckResult(not blockers, blockers, warnings, impact, settlement)


def _renews_within_24h(sub: Subscription, ctx: PrecheckContext) -> bool:
    return midnight(sub.period_end, ctx.pack) - ctx.now <= timedelta(hours=24)


def _list_sep(lang: str) -> str:
    return ", " if lang.startswith("en") else "、"


def _status_text(status: str, lang: str) -> str:
    return status if lang.startswith("en") else STATUS_ZH.get(status, status)


def _check_close_line(ctx: PrecheckContext, today: date, block, warn) -> Settlement:
    line, pack = ctx.line, ctx.pack
    if line.arrears > 0:
        block("ARREARS", {"amount_due": line.arrears}, amount=line.arrears)
    etf = early_termination_fee(line, today, pack)
    if line.contract_runs_on(today):
        ends_on = line.contract_ends_on.isoformat()
        if etf is BLOCKS:
            block("CONTRACT_LOCK", {"ends_on": ends_on}, ends_on=ends_on)
        elif etf:
            warn("CONTRACT_FEE", {"amount": etf, "ends_on": ends_on}, amount=etf, ends_on=ends_on)
    if installment_fee(line, pack) is BLOCKS:
        block("INSTALLMENT_DUE", {"amount_due": line.installment_due}, amount=line.installment_due)
    if ctx.active_secondary_lines:
        shown = _list_sep(ctx.lang).join(mask_msisdn(m) for m in ctx.active_secondary_lines)
        block("SECONDARY_LINES", {"count": len(ctx.active_secondary_lines)}, count=len(ctx.active_secondary_lines), lines=shown)
    if line.port_out_pending:
        block("PORT_OUT_PENDING")
    settlement = settlement_for(RequestKind.CLOSE_LINE, line, ctx.subscriptions, None, today, pack)
    if settlement.refund < 0 and line.arrears <= 0:
        block("ARREARS", {"amount_due": -settlement.refund}, amount=-settlement.refund)
    if line.bindings:
        names = _list_sep(ctx.lang).join(str(b.get("name", "")) for b in line.bindings)
        warn("BOUND_ACCOUNTS", {"bindings": line.bindings}, names=names)
    if line.gift_balance > 0:
        warn("GIFT_BALANCE_FORFEIT", {"amount": line.gift_balance}, amount=line.gift_balance)
    imminent = [p.name(ctx.lang) for s, p in ctx.subscriptions
                if p.kind in AUTO_RENEWING_KINDS and s.is_active and s.auto_renew and _renews_within_24h(s, ctx)]
    if imminent:
        warn("RENEWAL_IMMINENT", names=_list_sep(ctx.lang).join(imminent))
    return settlement
