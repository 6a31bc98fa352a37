"""One home per rule: the early-termination and instalment fees and the settlement that applies to
each kind are domain functions (domain/settlement.py); the pre-check's impact and the executor's
ledger both come from them, so what the subscriber is shown is what is booked."""
from __future__ import annotations

from datetime import date, datetime, timezone

from canceldesk.bootstrap import load_policy
from canceldesk.domain.model import Line, Product, Subscription
from canceldesk.domain.prechecks import PrecheckContext, evaluate
from canceldesk.domain.settlement import BLOCKS, early_termination_fee, installment_fee, settlement_for

CN, EU = load_policy("cn"), load_policy("eu")
TODAY = date(2026, 11, 12)
NOW = datetime(2026, 11, 12, 4, 0, tzinfo=timezone.utc)
DATA = Product("VAS-DATA", "vas", "流量加油包", "Data booster", 3000, unsubscribe_effect="immediate", refund="prorated")


def line(**kw) -> Line:
    return Line("13800138000", "C001", cash_balance=5000, **kw)


def test_a_contract_that_runs_costs_its_fee_or_blocks_and_none_costs_nothing():
    assert early_termination_fee(line(), TODAY, CN) == 0
    feeable = line(contract_ends_on=date(2027, 6, 30), contract_early_termination="fee", contract_fee=20000)
    locked = line(contract_ends_on=date(2027, 6, 30), contract_early_termination="block", contract_fee=20000)
    ended = line(contract_ends_on=date(2026, 11, 11), contract_early_termination="block", contract_fee=20000)
    assert (early_termination_fee(feeable, TODAY, CN), early_termination_fee(locked, TODAY, CN)) == (20000, BLOCKS)
    assert early_termination_fee(ended, TODAY, CN) == 0


def test_instalments_block_or_are_charged_as_the_pack_says():
    assert installment_fee(line(installment_due=0), CN) == 0
    due = line(installment_due=120000)
    charged = CN.installment == "fee"
    assert installment_fee(due, CN) == (120000 if charged else BLOCKS)


def test_the_precheck_shows_exactly_the_settlement_the_executor_books():
    subs = [(Subscription("S-DATA", "13800138000", "VAS-DATA", date(2026, 11, 1), date(2026, 12, 1)), DATA)]
    for kind, target in (("unsubscribe", "S-DATA"), ("close_line", None)):
        shown = evaluate(PrecheckContext(kind=kind, line=line(), subscriptions=subs, pack=CN, now=NOW,
                                         subscription_id=target))
        booked = settlement_for(kind, line(), subs, target, TODAY, CN)
        assert shown.impact["refund"]["amount"] == booked.refund
        assert shown.settlement.ledger == booked.ledger
    # 19 of 30 days unused of a ¥30.00 booster: ¥19.00 back; closing adds the ¥50.00 cash balance
    assert settlement_for("unsubscribe", line(), subs, "S-DATA", TODAY, CN).refund == 1900
    assert settlement_for("close_line", line(), subs, None, TODAY, CN).refund == 5000 + 1900 - CN.processing_fee
    assert settlement_for("cancel_renewal", line(), subs, "S-DATA", TODAY, CN).refund == 0
