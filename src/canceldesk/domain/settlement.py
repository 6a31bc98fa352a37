"""Settlement: what money moves when something ends. Integer fen; ledgers sum to zero.

Ledger convention: each entry is a signed amount posted to an account; a settlement's entries
sum to exactly zero (what leaves the subscriber's balances goes to revenue or to refund payable).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .model import Line, Product, Subscription
from .money import prorate_down
from .policy import PolicyPack


class UnbalancedLedger(AssertionError):
    pass


@dataclass(frozen=True)
class LedgerLine:
    account: str
    amount: int
    memo: str

    def as_dict(self) -> dict:
        return {"account": self.account, "amount": self.amount, "memo": self.memo}


@dataclass(frozen=True)
class RefundLine:
    label_zh: str
    label_en: str
    amount: int  # + adds to the refund, − takes from it

    def as_dict(self, lang: str = "zh") -> dict:
        return {"label": self.label_en if lang.startswith("en") else self.label_zh, "amount": self.amount}


@dataclass
class Settlement:
    currency: str
    refund: int = 0
    refund_lines: list[RefundLine] = field(default_factory=list)
    fees: list[dict] = field(default_factory=list)
    ledger: list[LedgerLine] = field(default_factory=list)
    forfeited_gift: int = 0

    def post(self, account: str, amount: int, memo: str) -> None:
        if amount:
            self.ledger.append(LedgerLine(account, amount, memo))

    def check_balanced(self) -> None:
        total = sum(e.amount for e in self.ledger)
        if total != 0:
            raise UnbalancedLedger(f"settlement ledger sums to {total}, not 0")

    def impact_refund(self, lang: str = "zh") -> dict:
        return {"amount": self.refund, "currency": self.currency,
                "lines": [r.as_dict(lang) for r in self.refund_lines]}


def unused_days(sub: Subscription, effective: date) -> int:
    """The effective day itself counts as unused."""
    return max(0, min((sub.period_end - effective).days, sub.days_in_cycle))


def used_days(sub: Subscription, effective: date) -> int:
    return max(0, min((effective - sub.period_start).days, sub.days_in_cycle))


def prorated_refund(sub: Subscription, product: Product, effective: date) -> int:
    """price × unused days ÷ days in cycle, rounded down to the fen."""
    if not (sub.period_start <= effective < sub.period_end):
        return 0
    return prorate_down(product.price, unused_days(sub, effective), sub.days_in_cycle)


def withdrawal_refund(sub: Subscription, product: Product, effective: date) -> int:
    """price − ⌊price × used ÷ days⌋: the kept amount is rounded down, never the refund."""
    kept = prorate_down(product.price, used_days(sub, effective), sub.days_in_cycle)
    return product.price - kept


def settle_close_line(line: Line, subs: list[tuple[Subscription, Product]], effective: date,
                      early_termination_fee: int, installment_fee: int, processing_fee: int,
                      currency: str) -> Settlement:
    """refund = cash + deposit − unbilled usage − ETF − processing fee + prorated unused cycles."""
    s = Settlement(currency=currency)
    s.refund_lines.append(RefundLine("现金余额", "Cash balance", line.cash_balance))
    if line.deposit:
        s.refund_lines.append(RefundLine("押金", "Deposit", line.deposit))
    if line.unbilled_usage:
        s.refund_lines.append(RefundLine("未出账话费", "Unbilled usage", -line.unbilled_usage))
    if early_termination_fee:
        s.refund_lines.append(RefundLine("提前解约违约金", "Early-termination fee", -early_termination_fee))
        s.fees.append({"code": "EARLY_TERMINATION", "amount": early_termination_fee})
    if installment_fee:
        s.refund_lines.append(RefundLine("终端分期余款", "Remaining device instalments", -installment_fee))
        s.fees.append({"code": "INSTALLMENT", "amount": installment_fee})
    if processing_fee:
        s.refund_lines.append(RefundLine("手续费", "Processing fee", -processing_fee))
        s.fees.append({"code": "PROCESSING", "amount": processing_fee})
    prorated_total = 0
    for sub, product in subs:
        if product.refund == "prorated" and sub.is_active:
            part = prorated_refund(sub, product, effective)
            if part:
                prorated_total += part
                s.refund_lines.append(RefundLine(f"{product.name_zh} 未使用部分", f"Unused part of {product.name_en}", part))
    s.refund = (line.cash_balance + line.deposit - line.unbilled_usage - early_termination_fee
                - installment_fee - processing_fee + prorated_total)
    # Postings: balances released, charges recognised, the rest owed back to the subscriber.
    s.post("customer:cash", -line.cash_balance, "cash balance released")
    s.post("customer:deposit", -line.deposit, "deposit released")
    s.post("revenue:usage", line.unbilled_usage, "unbilled usage settled")
    s.post("revenue:early_termination", early_termination_fee, "early-termination fee")
    s.post("receivable:installments", installment_fee, "device instalments settled")
    s.post("revenue:processing", processing_fee, "processing fee")
    s.post("revenue:subscriptions", -prorated_total, "unused cycle share returned")
    if line.gift_balance:
        s.forfeited_gift = line.gift_balance
        s.post("customer:gift", -line.gift_balance, "gifted credit forfeited")
        s.post("revenue:gift_forfeited", line.gift_balance, "gifted credit forfeited")
    s.post("payable:refund", s.refund, "refund due to subscriber")
    s.check_balanced()
    return s


def settle_unsubscribe(sub: Subscription, product: Product, effective: date, currency: str) -> Settlement:
    s = Settlement(currency=currency)
    if product.unsubscribe_effect == "immediate" and product.refund == "prorated":
        refund = prorated_refund(sub, product, effective)
        if refund:
            s.refund = refund
            s.refund_lines.append(RefundLine(f"{product.name_zh} 未使用 {unused_days(sub, effective)}/{sub.days_in_cycle} 天",
                                             f"{product.name_en}: {unused_days(sub, effective)}/{sub.days_in_cycle} days unused", refund))
            s.post("revenue:subscriptions", -refund, f"{product.code} unused share")
            s.post("payable:refund", refund, "refund due to subscriber")
    s.check_balanced()
    return s


def settle_withdrawal(sub: Subscription, product: Product, effective: date, currency: str) -> Settlement:
    s = Settlement(currency=currency)
    refund = withdrawal_refund(sub, product, effective)
    s.refund = refund
    s.refund_lines.append(RefundLine(f"{product.name_zh} 撤回退款（已用 {used_days(sub, effective)} 天）",
                                     f"{product.name_en} withdrawal refund ({used_days(sub, effective)} days used)", refund))
    s.post("revenue:subscriptions", -refund, f"{product.code} withdrawn")
    s.post("payable:refund", refund, "refund due to subscriber")
    s.check_balanced()
    return s


def settle_nothing(currency: str) -> Settlement:
    return Settlement(currency=currency)


def settle_refund_payment(amount: int, method: str, currency: str) -> Settlement:
    """The payout itself: payable cleared against the payment method."""
    s = Settlement(currency=currency, refund=amount)
    s.post("payable:refund", -amount, "refund paid")
    s.post(f"payout:{method}", amount, "refund paid")
    s.check_balanced()
    return s


# --- one home for the rules the pre-check and the executor both apply ------------------------------
BLOCKS = None  # a fee function's answer when the rule blocks the request instead of charging


def early_termination_fee(line: Line, today: date, pack: PolicyPack) -> int | None:
    """The fee for leaving a contract early: 0 when no contract runs today, the contract's fee when
    the contract (or the pack) says so, BLOCKS (None) when the contract locks the line instead."""
    if not line.contract_runs_on(today):
        return 0
    if line.contract_early_termination == "fee" or pack.contract_lock == "fee":
        return line.contract_fee
    return BLOCKS


def installment_fee(line: Line, pack: PolicyPack) -> int | None:
    """Unpaid device instalments: charged on closing (pack `installment = "fee"`), or BLOCKS."""
    if line.installment_due <= 0:
        return 0
    return line.installment_due if pack.installment == "fee" else BLOCKS


def settlement_for(kind: str, line: Line, subs: list[tuple[Subscription, Product]], target_id: str | None,
                   today: date, pack: PolicyPack) -> Settlement:
    """Which settlement applies to a request of `kind`, computed once for the pre-check's impact
    and the executor's ledger alike (a blocking fee counts as 0 here: the pre-check blocks)."""
    if kind == "close_line":
        return settle_close_line(line, subs, today, early_termination_fee(line, today, pack) or 0,
                                 installment_fee(line, pack) or 0, pack.processing_fee, line.currency)
    sub, product = next(((s, p) for s, p in subs if s.id == target_id), (None, None))
    if product is None:
        return settle_nothing(pack.currency)
    if kind == "unsubscribe":
        return settle_unsubscribe(sub, product, today, product.currency)
    if kind == "withdraw":
        return settle_withdrawal(sub, product, today, product.currency)
    return settle_nothing(product.currency)
