"""Settlement: integer fen, DOMAIN.md's formulas, ledgers that sum to zero.

Worked examples are written out by hand; the properties compare with exact `fractions.Fraction`.
"""
from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canceldesk.domain.model import Line, Product, Subscription, SubscriptionStatus
from canceldesk.domain.money import Money, format_money, prorate_down
from canceldesk.domain.settlement import (prorated_refund, settle_close_line, settle_nothing,
                                          settle_refund_payment, settle_unsubscribe, settle_withdrawal,
                                          unused_days, used_days, withdrawal_refund)


def product(price: int, effect: str = "immediate", refund: str = "prorated", kind: str = "membership",
            code: str = "music_plus") -> Product:
    return Product(code, kind, "音乐会员", "Music Plus", price, unsubscribe_effect=effect, refund=refund)


def sub(start: date, end: date, sid: str = "S1", **kw) -> Subscription:
    return Subscription(sid, "13800138000", "music_plus", start, end, **kw)


def line(**kw) -> Line:
    return Line("13800138000", "C001", **kw)


def assert_balanced(settlement) -> None:
    assert sum(e.amount for e in settlement.ledger) == 0
    assert all(type(e.amount) is int for e in settlement.ledger)
    assert type(settlement.refund) is int


# ------------------------------------------------------------------ money is never float

@pytest.mark.parametrize("bad", [12.5, 0.0, 1e3, True, "100", None])
def test_money_refuses_anything_but_integer_fen(bad):
    with pytest.raises(TypeError):
        Money(bad)


def test_money_adds_within_a_currency_and_refuses_to_mix():
    assert Money(1050) + Money(250) == Money(1300)
    assert Money(1050) - Money(2000) == Money(-950)
    assert -Money(5) == Money(-5)
    assert Money(100, "EUR").as_dict() == {"amount": 100, "currency": "EUR"}
    with pytest.raises(ValueError):
        Money(100, "CNY") + Money(100, "EUR")


def test_amounts_are_shown_in_yuan_from_fen():
    assert format_money(8650, "CNY", "zh") == "¥86.50"
    assert format_money(5, "CNY", "zh") == "¥0.05"
    assert format_money(-1234, "CNY", "zh") == "-¥12.34"
    assert format_money(0, "CNY", "zh") == "¥0.00"
    assert format_money(123456, "CNY", "zh") == "¥1,234.56"


def test_the_currency_is_the_packs_and_the_format_the_readers():
    assert format_money(8650, "CNY", "en") == "CN¥86.50"
    assert format_money(8650, "EUR", "en") == "€86.50"
    assert format_money(8650, "USD", "en") == "$86.50"
    assert format_money(8650, "EUR", "zh") == "€86.50"
    assert format_money(-8650, "USD", "en") == "-$86.50"


def test_the_one_rounding_rule_rounds_down_to_the_fen():
    assert prorate_down(1000, 1, 3) == 333
    assert prorate_down(1000, 2, 3) == 666
    assert prorate_down(3000, 31, 31) == 3000
    assert prorate_down(3000, 0, 31) == 0
    with pytest.raises(ValueError):
        prorate_down(3000, 1, 0)


# ------------------------------------------------------------------ unsubscribe, immediate + prorated

CYCLES = {
    # name: (period_start, period_end, days in cycle)
    "feb-28": (date(2026, 2, 1), date(2026, 3, 1), 28),
    "feb-29-leap": (date(2028, 2, 1), date(2028, 3, 1), 29),
    "apr-30": (date(2026, 4, 1), date(2026, 5, 1), 30),
    "jan-31": (date(2026, 1, 1), date(2026, 2, 1), 31),
    "mid-month-31": (date(2026, 1, 15), date(2026, 2, 15), 31),
    "year-365": (date(2026, 3, 1), date(2027, 3, 1), 365),
    "year-366-leap": (date(2027, 3, 1), date(2028, 3, 1), 366),
}


@pytest.mark.parametrize("cycle", CYCLES, ids=list(CYCLES))
def test_days_in_cycle_are_calendar_days(cycle):
    start, end, days = CYCLES[cycle]
    assert sub(start, end).days_in_cycle == days


@pytest.mark.parametrize(("cycle", "price", "effective", "unused", "refund"), [
    # price × unused days ÷ days in cycle, rounded down; the effective day counts as unused
    ("feb-28", 3000, date(2026, 2, 15), 14, 1500),              # 3000 × 14/28 = 1500
    ("feb-29-leap", 3000, date(2028, 2, 15), 15, 1551),         # 3000 × 15/29 = 1551.72…
    ("feb-29-leap", 3000, date(2028, 2, 29), 1, 103),           # leap day is the last day: 103.44…
    ("apr-30", 3000, date(2026, 4, 11), 20, 2000),              # 3000 × 20/30 = 2000
    ("apr-30", 1999, date(2026, 4, 30), 1, 66),                 # 1999 × 1/30 = 66.63…
    ("jan-31", 3000, date(2026, 1, 21), 11, 1064),              # 3000 × 11/31 = 1064.51…
    ("mid-month-31", 1500, date(2026, 2, 1), 14, 677),          # 1500 × 14/31 = 677.41…
    ("year-365", 25800, date(2026, 12, 31), 60, 4241),          # 25800 × 60/365 = 4241.09…
    ("year-366-leap", 25800, date(2027, 12, 31), 61, 4300),     # 25800 × 61/366 = 4300 exactly
])
def test_unsubscribe_immediate_refunds_the_unused_days_rounded_down(cycle, price, effective, unused, refund):
    start, end, days = CYCLES[cycle]
    s = sub(start, end)
    assert unused_days(s, effective) == unused
    settlement = settle_unsubscribe(s, product(price), effective, "CNY")
    assert settlement.refund == refund
    assert Fraction(price * unused, days) - 1 < settlement.refund <= Fraction(price * unused, days)
    assert_balanced(settlement)


@pytest.mark.parametrize("cycle", CYCLES, ids=list(CYCLES))
def test_on_the_first_day_of_a_cycle_the_whole_price_comes_back(cycle):
    start, end, days = CYCLES[cycle]
    settlement = settle_unsubscribe(sub(start, end), product(2999), start, "CNY")
    assert unused_days(sub(start, end), start) == days
    assert settlement.refund == 2999


@pytest.mark.parametrize("cycle", CYCLES, ids=list(CYCLES))
def test_on_the_last_day_of_a_cycle_one_day_comes_back(cycle):
    start, end, days = CYCLES[cycle]
    last = end - timedelta(days=1)
    settlement = settle_unsubscribe(sub(start, end), product(2999), last, "CNY")
    assert unused_days(sub(start, end), last) == 1
    assert settlement.refund == 2999 // days


def test_outside_the_cycle_nothing_is_refunded():
    s = sub(date(2026, 4, 1), date(2026, 5, 1))
    assert prorated_refund(s, product(3000), date(2026, 5, 1)) == 0, "period_end is not in [start, end)"
    assert prorated_refund(s, product(3000), date(2026, 3, 31)) == 0


def test_refund_lines_say_how_many_days_were_unused():
    settlement = settle_unsubscribe(sub(date(2026, 2, 1), date(2026, 3, 1)), product(3000), date(2026, 2, 15), "CNY")
    assert settlement.impact_refund("en") == {"amount": 1500, "currency": "CNY",
                                              "lines": [{"label": "Music Plus: 14/28 days unused", "amount": 1500,
                                                         "label_en": "Music Plus: 14/28 days unused",
                                                         "label_zh": "音乐会员 未使用 14/28 天"}]}
    assert "14/28" in settlement.impact_refund("zh")["lines"][0]["label"]
    assert [(e.account, e.amount) for e in settlement.ledger] == [("revenue:subscriptions", -1500),
                                                                  ("payable:refund", 1500)]


@pytest.mark.parametrize(("effect", "refund"), [("end_of_cycle", "none"), ("end_of_cycle", "prorated"),
                                                ("immediate", "none")])
def test_no_refund_unless_the_product_is_immediate_and_prorated(effect, refund):
    settlement = settle_unsubscribe(sub(date(2026, 2, 1), date(2026, 3, 1)), product(3000, effect, refund),
                                    date(2026, 2, 2), "CNY")
    assert settlement.refund == 0 and settlement.ledger == [] and settlement.refund_lines == []


def test_cancel_renewal_moves_no_money():
    s = settle_nothing("CNY")
    assert s.refund == 0 and s.ledger == [] and s.fees == []
    s.check_balanced()


# ------------------------------------------------------------------ withdraw

def test_withdrawal_keeps_only_the_used_share_rounded_down():
    s = sub(date(2026, 3, 1), date(2026, 4, 1))
    # used 7 of 31 days: kept ⌊999 × 7 ÷ 31⌋ = ⌊225.58…⌋ = 225 → refund 774 (exact unused share 773.41…)
    assert used_days(s, date(2026, 3, 8)) == 7
    assert withdrawal_refund(s, product(999), date(2026, 3, 8)) == 774
    settlement = settle_withdrawal(s, product(999), date(2026, 3, 8), "EUR")
    assert settlement.refund == 774 and settlement.currency == "EUR"
    assert_balanced(settlement)


def test_withdrawal_on_the_first_day_refunds_everything():
    s = sub(date(2026, 3, 1), date(2026, 4, 1))
    assert settle_withdrawal(s, product(999), date(2026, 3, 1), "EUR").refund == 999


# ------------------------------------------------------------------ close_line

PLAN = Product("cn_plan_58", "plan", "畅享58元套餐", "Unlimited 58", 5800, refund="none")
VAS = Product("vas_ringback", "vas", "彩铃", "Ringback tones", 500, unsubscribe_effect="immediate", refund="none")
MEMBER = product(3000)  # refund: prorated


def test_close_line_refund_follows_domain_md_term_by_term():
    feb = (date(2026, 2, 1), date(2026, 3, 1))
    subs = [(sub(*feb, sid="S1"), PLAN), (sub(*feb, sid="S2"), VAS), (sub(*feb, sid="S3"), MEMBER)]
    ln = line(cash_balance=10000, gift_balance=2000, deposit=5000, unbilled_usage=2350)
    s = settle_close_line(ln, subs, date(2026, 2, 15), early_termination_fee=3000, installment_fee=0,
                          processing_fee=200, currency="CNY")
    # 10000 + 5000 − 2350 − 3000 − 200 + 3000 × 14/28 (membership only; CN plan and VAS: none) = 10950
    assert s.refund == 10000 + 5000 - 2350 - 3000 - 200 + 1500 == 10950
    assert s.forfeited_gift == 2000, "gifted balance is forfeited, not refunded"
    assert [(r.label_en, r.amount) for r in s.refund_lines] == [
        ("Cash balance", 10000), ("Deposit", 5000), ("Unbilled usage", -2350), ("Early-termination fee", -3000),
        ("Processing fee", -200), ("Unused part of Music Plus", 1500)]
    assert sum(r.amount for r in s.refund_lines) == s.refund, "the receipt's lines add up to the refund"
    assert {f["code"]: f["amount"] for f in s.fees} == {"EARLY_TERMINATION": 3000, "PROCESSING": 200}
    assert_balanced(s)
    ledger = {e.account: e.amount for e in s.ledger}
    assert ledger["payable:refund"] == 10950
    assert ledger["customer:gift"] == -2000 and ledger["revenue:gift_forfeited"] == 2000


def test_processing_fee_defaults_to_nothing_and_plans_and_vas_refund_nothing():
    feb = (date(2026, 2, 1), date(2026, 3, 1))
    s = settle_close_line(line(cash_balance=4200), [(sub(*feb, sid="S1"), PLAN), (sub(*feb, sid="S2"), VAS)],
                          date(2026, 2, 2), 0, 0, 0, "CNY")
    assert s.refund == 4200 and s.fees == []


def test_an_ended_subscription_adds_nothing_to_the_close_line_refund():
    feb = (date(2026, 2, 1), date(2026, 3, 1))
    s = settle_close_line(line(cash_balance=100), [(sub(*feb, status=SubscriptionStatus.ENDED), MEMBER)],
                          date(2026, 2, 15), 0, 0, 0, "CNY")
    assert s.refund == 100


def test_a_product_already_set_to_end_at_cycle_end_still_refunds_its_unused_share_on_closure():
    feb = (date(2026, 2, 1), date(2026, 3, 1))
    ending = sub(*feb, status=SubscriptionStatus.ENDING, auto_renew=False)
    s = settle_close_line(line(cash_balance=100), [(ending, MEMBER)], date(2026, 2, 15), 0, 0, 0, "CNY")
    assert s.refund == 100 + 3000 * 14 // 28 == 1600
    assert [(r.label_en, r.amount) for r in s.refund_lines][-1] == ("Unused part of Music Plus", 1500)


def test_instalments_taken_as_a_fee_reduce_the_refund():
    s = settle_close_line(line(cash_balance=150000), [], date(2026, 3, 14), 0, 129900, 0, "EUR")
    assert s.refund == 20100
    assert s.fees == [{"code": "INSTALLMENT", "amount": 129900}]
    assert_balanced(s)


def test_a_negative_close_line_result_is_reported_not_booked_as_a_refund():
    s = settle_close_line(line(cash_balance=1000, unbilled_usage=2234), [], date(2026, 3, 14), 0, 0, 0, "CNY")
    assert s.refund == -1234  # prechecks turn this into an ARREARS blocker (see test_prechecks)
    assert_balanced(s)


def test_the_payout_clears_the_payable():
    s = settle_refund_payment(10950, "original", "CNY")
    assert [(e.account, e.amount) for e in s.ledger] == [("payable:refund", -10950), ("payout:original", 10950)]
    assert_balanced(s)


# ------------------------------------------------------------------ properties

fen = st.integers(min_value=0, max_value=10_000_000)  # up to ¥100,000
cycle_days = st.sampled_from([1, 7, 28, 29, 30, 31, 90, 91, 92, 365, 366])
starts = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=300, deadline=None)
@given(price=fen, start=starts, days=cycle_days, data=st.data())
def test_prorated_refund_is_the_exact_unused_share_rounded_down(price, start, days, data):
    s = sub(start, start + timedelta(days=days))
    effective = start + timedelta(days=data.draw(st.integers(0, days - 1)))
    exact = Fraction(price * (s.period_end - effective).days, days)
    refund = settle_unsubscribe(s, product(price), effective, "CNY").refund
    assert exact - 1 < refund <= exact
    assert 0 <= refund <= price


@settings(max_examples=300, deadline=None)
@given(price=fen, start=starts, days=cycle_days, data=st.data())
def test_withdrawal_never_gives_back_less_than_the_exact_unused_share(price, start, days, data):
    s = sub(start, start + timedelta(days=days))
    used = data.draw(st.integers(0, days - 1))
    effective = start + timedelta(days=used)
    exact_unused = Fraction(price * (days - used), days)
    settlement = settle_withdrawal(s, product(price), effective, "EUR")
    assert settlement.refund >= exact_unused, "the subscriber never gets back less than the unused share"
    assert settlement.refund - exact_unused < 1, "and at most one fen more"
    assert settlement.refund == price - (price * used) // days
    assert_balanced(settlement)


@settings(max_examples=300, deadline=None)
@given(cash=fen, gift=fen, deposit=fen, unbilled=fen, etf=fen, inst=fen, processing=st.integers(0, 10_000),
       effective=starts,
       subs=st.lists(st.tuples(fen, st.sampled_from(["none", "prorated"]), st.integers(-400, 5), cycle_days,
                               st.sampled_from(list(SubscriptionStatus))), max_size=4))
def test_every_close_line_settlement_ledger_sums_to_zero(cash, gift, deposit, unbilled, etf, inst, processing,
                                                         effective, subs):
    pairs, prorated = [], Fraction(0)
    for i, (price, refund_rule, offset, days, status) in enumerate(subs):
        start = effective + timedelta(days=offset)  # the cycle may or may not contain the effective day
        s = sub(start, start + timedelta(days=days), sid=f"S{i}", status=status)
        p = product(price, refund=refund_rule, code=f"p{i}")
        pairs.append((s, p))
        # still in its paid cycle, active or set to end at cycle end (DOMAIN.md close_line)
        if refund_rule == "prorated" and status != SubscriptionStatus.ENDED and start <= effective < s.period_end:
            prorated += Fraction(price * (s.period_end - effective).days, days) // 1
    ln = line(cash_balance=cash, gift_balance=gift, deposit=deposit, unbilled_usage=unbilled)
    settlement = settle_close_line(ln, pairs, effective, etf, inst, processing, "CNY")
    assert_balanced(settlement)
    assert settlement.refund == cash + deposit - unbilled - etf - inst - processing + prorated
    assert settlement.forfeited_gift == gift
    assert sum(r.amount for r in settlement.refund_lines) == settlement.refund
