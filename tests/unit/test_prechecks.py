"""Pre-checks: every code of DOMAIN.md's table, reached through `prechecks.evaluate`, in zh and en.

The context is built from plain dataclasses and a real policy pack; times are aware datetimes.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from canceldesk.bootstrap import load_policy
from canceldesk.domain.messages import CATALOGUE, WARNING_CODES, render
from canceldesk.domain.model import Line, LineStatus, Product, Subscription, SubscriptionStatus
from canceldesk.domain.prechecks import PrecheckContext, PrecheckResult, evaluate

PACKS = {code: load_policy(code) for code in ("cn", "eu", "us-ca")}
SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
TZ = {"cn": SH, "eu": BERLIN, "us-ca": LA}
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

# Saturday 14 March 2026, 10:00 in Shanghai; the current monthly cycle is [1 Mar, 1 Apr).
NOW = datetime(2026, 3, 14, 10, 0, tzinfo=SH)
MARCH = (date(2026, 3, 1), date(2026, 4, 1))

DOMAIN_MD_CODES = {"NOT_OWNER", "LINE_NOT_ACTIVE", "ARREARS", "CONTRACT_LOCK", "SECONDARY_LINES",
                   "PORT_OUT_PENDING", "OPEN_REQUEST", "INSTALLMENT_DUE", "BOUND_ACCOUNTS",
                   "GIFT_BALANCE_FORFEIT", "RENEWAL_IMMINENT"}


def make_line(**kw) -> Line:
    kw.setdefault("msisdn", "13800138000")
    kw.setdefault("customer_id", "C001")
    kw.setdefault("cash_balance", 5000)
    return Line(**kw)


PLAN = Product("cn_plan_58", "plan", "畅享58元套餐", "Unlimited 58", 5800, unsubscribe_effect="end_of_cycle", refund="none")
VAS = Product("vas_ringback", "vas", "彩铃", "Ringback tones", 500, unsubscribe_effect="immediate", refund="none")
VIDEO = Product("video_vip", "membership", "视频会员", "Video VIP", 2500, unsubscribe_effect="end_of_cycle", refund="none")
MUSIC = Product("music_plus", "membership", "音乐会员", "Music Plus", 1500, unsubscribe_effect="immediate", refund="prorated")
CLOUD_EU = Product("cloud_eu", "vas", "云盘", "Cloud storage", 999, unsubscribe_effect="immediate", refund="prorated", currency="EUR")


def make_sub(sid: str, product: Product, period=MARCH, **kw) -> tuple[Subscription, Product]:
    return Subscription(sid, kw.pop("msisdn", "13800138000"), product.code, period[0], period[1], **kw), product


def check(kind: str = "close_line", line: Line | None = None, subs=(), pack: str = "cn", now: datetime = NOW,
          **kw) -> PrecheckResult:
    ctx = PrecheckContext(kind=kind, line=line or make_line(), subscriptions=list(subs), pack=PACKS[pack],
                          now=now, **kw)
    return evaluate(ctx)


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def only(findings, code: str):
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, f"expected one {code}, got {codes(findings)}"
    return found[0]


# ------------------------------------------------------------------ the clean case

def test_a_clean_line_closes_with_its_balance_refunded_and_the_number_frozen_90_days():
    result = check(line=make_line(cash_balance=12345), subs=[make_sub("S1", PLAN)])
    assert result.eligible and result.blockers == [] and result.warnings == []
    assert result.impact["refund"]["amount"] == 12345
    assert result.impact["fees"] == []
    assert result.impact["number_frozen_days"] == 90
    assert result.impact["access_ends_at"] == "on completion"
    assert result.impact["billing_ends_at"] == "2026-03-14"
    assert {e["what"] for e in result.impact["ends"]} == {"line", "subscription"}


# ------------------------------------------------------------------ blockers, one by one

def test_not_owner_when_the_staff_or_enterprise_actor_may_not_end_the_line():
    result = check(actor_may_end=False)
    assert not result.eligible and codes(result.blockers) == ["NOT_OWNER"]
    assert "实名机主" in result.blockers[0].message
    en = only(check(actor_may_end=False, lang="en").blockers, "NOT_OWNER")
    assert "owner" in en.message and "ID" in en.resolution


@pytest.mark.parametrize(("status", "zh"), [(LineStatus.FROZEN, "已销户冻结"), (LineStatus.RECYCLABLE, "已回收"),
                                            (LineStatus.INACTIVE, "未激活")])
def test_line_not_active_for_closed_frozen_or_never_activated_lines(status, zh):
    for kind, extra in (("close_line", {}), ("unsubscribe", {"subscription_id": "S1"})):
        result = check(kind, line=make_line(status=status), subs=[make_sub("S1", MUSIC)], **extra)
        finding = only(result.blockers, "LINE_NOT_ACTIVE")
        assert not result.eligible
        assert zh in finding.message and finding.details == {"status": status}
    en = only(check(line=make_line(status=status), lang="en").blockers, "LINE_NOT_ACTIVE")
    assert str(status) in en.message and "reclaim" in en.resolution


def test_a_suspended_line_is_not_told_it_is_closed_or_never_activated():
    """停机 is none of DOMAIN.md's "closed, frozen, or never activated": it can still be closed."""
    result = check(line=make_line(status=LineStatus.SUSPENDED, cash_balance=0, arrears=3000))
    assert "LINE_NOT_ACTIVE" not in codes(result.blockers)
    assert codes(result.blockers) == ["ARREARS"], "what stops it is the money owed, with the amount"
    assert check(line=make_line(status=LineStatus.SUSPENDED)).eligible


def test_arrears_block_and_show_the_amount_due_in_message_and_details():
    result = check(line=make_line(cash_balance=0, arrears=8650))
    finding = only(result.blockers, "ARREARS")
    assert not result.eligible
    assert finding.details == {"amount_due": 8650}
    assert "¥86.50" in finding.message and "¥86.50" in finding.resolution
    en = only(check(line=make_line(cash_balance=0, arrears=8650), lang="en").blockers, "ARREARS")
    assert "¥86.50" in en.message and "Pay" in en.resolution


def test_a_negative_settlement_is_an_arrears_blocker_not_a_silent_debt():
    result = check(line=make_line(cash_balance=1000, unbilled_usage=2234))
    finding = only(result.blockers, "ARREARS")
    assert not result.eligible
    assert finding.details == {"amount_due": 1234} and "¥12.34" in finding.message
    assert result.settlement.refund == -1234


def test_arrears_are_reported_once_even_when_the_settlement_is_also_negative():
    result = check(line=make_line(cash_balance=0, arrears=500, unbilled_usage=900))
    assert codes(result.blockers).count("ARREARS") == 1


def test_contract_lock_blocks_in_cn_until_the_contract_ends():
    line = make_line(contract_ends_on=date(2026, 12, 31), contract_fee=20000)
    result = check(line=line)
    finding = only(result.blockers, "CONTRACT_LOCK")
    assert finding.details == {"ends_on": "2026-12-31"} and "2026-12-31" in finding.message
    assert result.impact["fees"] == []
    assert "2026-12-31" in only(check(line=line, lang="en").blockers, "CONTRACT_LOCK").resolution


def test_the_contract_still_runs_on_its_last_day_and_not_the_day_after():
    assert "CONTRACT_LOCK" in codes(check(line=make_line(contract_ends_on=date(2026, 3, 14))).blockers)
    assert check(line=make_line(contract_ends_on=date(2026, 3, 13))).eligible


def test_a_cn_contract_that_names_a_fee_charges_it_instead_of_blocking():
    line = make_line(cash_balance=30000, contract_ends_on=date(2026, 12, 31), contract_early_termination="fee",
                     contract_fee=20000)
    result = check(line=line)
    assert result.eligible and "CONTRACT_LOCK" not in codes(result.blockers)
    assert result.impact["fees"] == [{"code": "EARLY_TERMINATION", "amount": 20000}]
    assert result.impact["refund"]["amount"] == 10000
    assert only(result.warnings, "CONTRACT_FEE").details == {"amount": 20000, "ends_on": "2026-12-31"}


@pytest.mark.parametrize("pack", ["eu", "us-ca"])
def test_contract_lock_is_a_fee_shown_in_the_impact_in_eu_and_us_ca(pack):
    line = make_line(cash_balance=30000, contract_ends_on=date(2026, 12, 31), contract_early_termination="block",
                     contract_fee=12000, currency=PACKS[pack].currency)
    result = check(line=line, pack=pack, now=datetime(2026, 3, 14, 10, 0, tzinfo=TZ[pack]))
    assert result.eligible and "CONTRACT_LOCK" not in codes(result.blockers)
    assert result.impact["fees"] == [{"code": "EARLY_TERMINATION", "amount": 12000}]
    assert result.impact["refund"]["amount"] == 18000
    assert "CONTRACT_FEE" in codes(result.warnings)


def test_secondary_lines_block_the_primary_and_are_listed_masked():
    result = check(active_secondary_lines=["13900139000", "13700137000"])
    finding = only(result.blockers, "SECONDARY_LINES")
    assert finding.details == {"count": 2}
    assert "139****9000" in finding.message and "137****7000" in finding.message
    assert "13900139000" not in finding.message


def test_a_pending_port_out_blocks_closure():
    result = check(line=make_line(port_out_pending=True))
    assert codes(result.blockers) == ["PORT_OUT_PENDING"]
    assert "携号转网" in result.blockers[0].message


@pytest.mark.parametrize(("kind", "extra"), [("close_line", {}), ("unsubscribe", {"subscription_id": "S1"}),
                                             ("cancel_renewal", {"subscription_id": "S1"})])
def test_an_open_request_on_the_same_target_blocks_and_names_it(kind, extra):
    result = check(kind, subs=[make_sub("S1", VIDEO)], open_request_tracking_no="CD20260314000007", **extra)
    finding = only(result.blockers, "OPEN_REQUEST")
    assert finding.details == {"tracking_no": "CD20260314000007"}
    assert "CD20260314000007" in finding.message and "CD20260314000007" in finding.resolution


def test_an_unpaid_instalment_plan_blocks_in_cn():
    result = check(line=make_line(installment_due=129900))
    finding = only(result.blockers, "INSTALLMENT_DUE")
    assert finding.details == {"amount_due": 129900} and "¥1,299.00" in finding.message


@pytest.mark.parametrize("pack", ["eu", "us-ca"])
def test_an_unpaid_instalment_plan_is_a_fee_elsewhere(pack):
    line = make_line(cash_balance=150000, installment_due=129900, currency=PACKS[pack].currency)
    result = check(line=line, pack=pack, now=datetime(2026, 3, 14, 10, 0, tzinfo=TZ[pack]))
    assert result.eligible
    assert result.impact["fees"] == [{"code": "INSTALLMENT", "amount": 129900}]
    assert result.impact["refund"]["amount"] == 150000 - 129900


# ------------------------------------------------------------------ warnings

def test_bound_accounts_are_listed_and_only_warned_about():
    bindings = [{"kind": "bank", "name": "招商银行"}, {"kind": "payment", "name": "支付宝"}]
    result = check(line=make_line(bindings=bindings))
    assert result.eligible and codes(result.warnings) == ["BOUND_ACCOUNTS"]
    finding = result.warnings[0]
    assert "招商银行" in finding.message and "支付宝" in finding.message
    assert finding.details == {"bindings": bindings}


def test_gifted_credit_is_announced_as_forfeited_before_closing():
    result = check(line=make_line(cash_balance=5000, gift_balance=2000))
    finding = only(result.warnings, "GIFT_BALANCE_FORFEIT")
    assert result.eligible
    assert finding.details == {"amount": 2000} and "¥20.00" in finding.message
    assert result.impact["gift_forfeited"] == 2000
    assert result.impact["refund"]["amount"] == 5000, "the gift is not refunded"


RENEWAL = datetime(2026, 3, 15, 0, 0, tzinfo=SH)  # NOW + 14 h: period_end 00:00 in Shanghai


def renewing(product: Product = VIDEO, sid: str = "S1", **kw):
    """A subscription on the cycle [15 Feb, 15 Mar): it renews at RENEWAL."""
    return make_sub(sid, product, (date(2026, 2, 15), date(2026, 3, 15)), **kw)


@pytest.mark.parametrize(("hours", "warned"), [(1, True), (14, True), (24, True), (24.5, False), (38, False)])
def test_renewal_imminent_when_a_membership_renews_within_24_hours(hours, warned):
    result = check(subs=[renewing()], now=RENEWAL - timedelta(hours=hours))
    assert ("RENEWAL_IMMINENT" in codes(result.warnings)) is warned
    assert result.eligible, "a warning never blocks"


def test_renewal_imminent_says_the_closure_still_stops_the_charge():
    result = check(subs=[renewing()], lang="en")
    finding = only(result.warnings, "RENEWAL_IMMINENT")
    assert "Video VIP" in finding.message and "still stops" in finding.message
    zh = only(check(subs=[renewing()]).warnings, "RENEWAL_IMMINENT")
    assert "视频会员" in zh.message and "阻止" in zh.message


def test_renewal_imminent_on_closure_considers_memberships_and_vas_but_not_plans():
    subs = [renewing(PLAN, sid="S1"), renewing(VAS, sid="S2"), renewing(VIDEO, sid="S3")]
    finding = only(check(subs=subs, lang="en").warnings, "RENEWAL_IMMINENT")
    assert "Ringback tones" in finding.message and "Video VIP" in finding.message
    assert "Unlimited 58" not in finding.message
    plan_only = check(subs=[renewing(PLAN)])
    assert "RENEWAL_IMMINENT" not in codes(plan_only.warnings), "a monthly plan is not a bought auto-renewal"


def test_no_renewal_warning_when_auto_renewal_is_already_off_or_the_subscription_ended():
    off = renewing(auto_renew=False)
    ended = renewing(sid="S2", status=SubscriptionStatus.ENDED)
    assert check(subs=[off, ended]).warnings == []


@pytest.mark.parametrize("kind", ["cancel_renewal", "unsubscribe"])
def test_renewal_imminent_when_ending_the_subscription_itself(kind):
    result = check(kind, subs=[renewing()], subscription_id="S1", now=RENEWAL - timedelta(hours=3))
    assert codes(result.warnings) == ["RENEWAL_IMMINENT"] and result.eligible


def test_all_of_domain_md_table_at_once_in_both_languages():
    line = make_line(cash_balance=0, arrears=100, contract_ends_on=date(2027, 1, 31), installment_due=5000,
                     port_out_pending=True, gift_balance=300,
                     bindings=[{"kind": "bank", "name": "Bank A"}, {"kind": "social", "name": "Chat B"}])
    subs = [renewing(VIDEO, sid="S1"), renewing(MUSIC, sid="S2")]
    args = dict(line=line, subs=subs, actor_may_end=False, open_request_tracking_no="CD1",
                active_secondary_lines=["13900139000", "13700137000"])
    for lang in ("zh", "en"):
        result = check(**args, lang=lang)
        assert set(codes(result.blockers)) == {"NOT_OWNER", "OPEN_REQUEST", "ARREARS", "CONTRACT_LOCK",
                                               "INSTALLMENT_DUE", "SECONDARY_LINES", "PORT_OUT_PENDING"}
        assert set(codes(result.warnings)) == {"BOUND_ACCOUNTS", "GIFT_BALANCE_FORFEIT", "RENEWAL_IMMINENT"}
        for f in result.blockers + result.warnings:
            assert f.message.strip() and f.resolution.strip(), f.code
            if lang == "en":
                assert not CJK.search(f.message + f.resolution), f"{f.code} has Chinese text in English: {f.message}"
            else:
                assert CJK.search(f.message), f.code
            assert "{" not in f.message + f.resolution, f"{f.code}: unfilled placeholder"
        assert result.as_dict()["eligible"] is False
        assert {b["code"] for b in result.as_dict()["blockers"]} == set(codes(result.blockers))
    line_not_active = only(check(line=make_line(status=LineStatus.FROZEN), lang="en").blockers, "LINE_NOT_ACTIVE")
    assert not CJK.search(line_not_active.message)


def test_the_catalogue_has_every_domain_md_code_in_zh_and_en():
    assert DOMAIN_MD_CODES <= set(CATALOGUE)
    assert {"BOUND_ACCOUNTS", "GIFT_BALANCE_FORFEIT", "RENEWAL_IMMINENT"} <= WARNING_CODES
    params = dict(status="frozen", amount=100, ends_on="2026-12-31", count=1, lines="139****9000",
                  tracking_no="CD1", access_ends="2026-04-01", deadline="2026-03-15", days=14, names="Video VIP")
    for code, texts in CATALOGUE.items():
        assert all(t.strip() for t in texts), code
        zh_msg, zh_res = render(code, "zh", **params)
        en_msg, en_res = render(code, "en", **params)
        assert CJK.search(zh_msg + zh_res), code
        assert not CJK.search(en_msg + en_res), code


# ------------------------------------------------------------------ access end vs billing end

def test_cancel_renewal_keeps_access_to_period_end_midnight_shanghai_and_charges_nothing_more():
    result = check("cancel_renewal", subs=[make_sub("S1", VIDEO)], subscription_id="S1")
    assert result.eligible
    access = datetime.fromisoformat(result.impact["access_ends_at"])
    assert access == datetime(2026, 4, 1, 0, 0, tzinfo=SH)
    assert access.utcoffset() == timedelta(hours=8)
    assert access == datetime(2026, 3, 31, 16, 0, tzinfo=timezone.utc)
    assert result.impact["billing_ends_at"] == "2026-04-01"
    assert result.impact["next_charge"] is None
    assert result.impact["refund"]["amount"] == 0 and result.settlement.ledger == []
    assert result.impact["ends"][0]["what"] == "auto_renewal"


def test_cancelling_a_renewal_that_is_already_off_says_how_long_access_lasts():
    result = check("cancel_renewal", subs=[make_sub("S1", VIDEO, auto_renew=False)], subscription_id="S1")
    finding = only(result.blockers, "RENEWAL_ALREADY_OFF")
    assert "2026-04-01" in finding.resolution


def test_unsubscribe_immediate_ends_access_on_completion_and_billing_today():
    result = check("unsubscribe", subs=[make_sub("S1", MUSIC)], subscription_id="S1")
    assert result.impact["access_ends_at"] == "on completion"
    assert result.impact["billing_ends_at"] == "2026-03-14"
    # 1500 × 18 unused days (14–31 March) ÷ 31 = 870.96… → 870
    assert result.impact["refund"]["amount"] == 870


def test_unsubscribe_end_of_cycle_keeps_access_to_period_end_without_refund():
    result = check("unsubscribe", subs=[make_sub("S1", VIDEO)], subscription_id="S1")
    assert datetime.fromisoformat(result.impact["access_ends_at"]) == datetime(2026, 4, 1, tzinfo=SH)
    assert result.impact["billing_ends_at"] == "2026-04-01"
    assert result.impact["refund"]["amount"] == 0


def test_the_effective_day_is_the_calendar_day_in_shanghai_not_utc():
    # 16:30 UTC on 14 March is already 00:30 on 15 March in Shanghai: one day fewer unused.
    late = datetime(2026, 3, 14, 16, 30, tzinfo=timezone.utc)
    result = check("unsubscribe", subs=[make_sub("S1", MUSIC)], subscription_id="S1", now=late)
    assert result.impact["billing_ends_at"] == "2026-03-15"
    assert result.impact["refund"]["amount"] == 1500 * 17 // 31


@pytest.mark.parametrize(("kind", "code"), [("unsubscribe", "SUBSCRIPTION_REQUIRED"),
                                            ("cancel_renewal", "SUBSCRIPTION_REQUIRED")])
def test_a_subscription_request_must_name_a_subscription_on_the_line(kind, code):
    assert code in codes(check(kind, subs=[make_sub("S1", VIDEO)]).blockers)
    assert code in codes(check(kind, subs=[make_sub("S1", VIDEO)], subscription_id="S-other").blockers)


def test_an_ended_subscription_cannot_be_ended_again():
    result = check("unsubscribe", subs=[make_sub("S1", VIDEO, status=SubscriptionStatus.ENDED)], subscription_id="S1")
    assert codes(result.blockers) == ["SUBSCRIPTION_NOT_ACTIVE"]


# ------------------------------------------------------------------ withdrawal (EU only, 14 days)

def eu_withdraw(now: datetime, started: date = date(2026, 3, 1), pack: str = "eu", **kw) -> PrecheckResult:
    sub = make_sub("S1", CLOUD_EU, MARCH, started_on=started)
    line = make_line(currency="EUR")
    return check("withdraw", line=line, subs=[sub], subscription_id="S1", pack=pack, now=now, **kw)


def test_withdrawal_inside_14_days_under_eu_refunds_all_but_the_used_share():
    result = eu_withdraw(datetime(2026, 3, 8, 12, 0, tzinfo=BERLIN))
    assert result.eligible and result.blockers == []
    # used 7 of 31 days: kept ⌊999 × 7 ÷ 31⌋ = 225, refunded 774
    assert result.impact["refund"] == {"amount": 774, "currency": "EUR", "lines": result.impact["refund"]["lines"]}
    assert result.impact["access_ends_at"] == "on completion"
    assert "RENEWAL_IMMINENT" not in codes(result.warnings)


def test_withdrawal_is_possible_through_day_14_and_closed_on_day_15_in_berlin_time():
    assert eu_withdraw(datetime(2026, 3, 15, 23, 30, tzinfo=BERLIN)).eligible
    closed = eu_withdraw(datetime(2026, 3, 15, 23, 30, tzinfo=timezone.utc))  # 00:30 on 16 March in Berlin
    finding = only(closed.blockers, "WITHDRAWAL_WINDOW_CLOSED")
    assert "2026-03-15" in finding.message
    en = only(eu_withdraw(datetime(2026, 3, 16, 9, 0, tzinfo=BERLIN), lang="en").blockers, "WITHDRAWAL_WINDOW_CLOSED")
    assert "14-day" in en.message and "Unsubscribe" in en.resolution


@pytest.mark.parametrize("pack", ["cn", "us-ca"])
def test_withdrawal_is_not_offered_outside_eu(pack):
    result = eu_withdraw(datetime(2026, 3, 2, 12, 0, tzinfo=TZ[pack]), pack=pack)
    assert codes(result.blockers) == ["WITHDRAWAL_NOT_AVAILABLE"]


# ------------------------------------------------------------------ reclaim

def frozen_line(**kw) -> Line:
    return make_line(status=LineStatus.FROZEN, closed_at=NOW - timedelta(days=10),
                     frozen_until=NOW + timedelta(days=80), former_customer_id="C001", **kw)


def test_the_former_owner_may_reclaim_inside_the_freeze_window():
    result = check("reclaim", line=frozen_line())
    assert result.eligible and result.impact["ends"] == [{"what": "freeze", "msisdn": "13800138000"}]


def test_reclaim_is_refused_after_the_window_for_active_lines_and_for_others():
    assert codes(check("reclaim", line=frozen_line(), now=NOW + timedelta(days=81)).blockers) == ["NOT_RECLAIMABLE"]
    assert codes(check("reclaim", line=make_line()).blockers) == ["NOT_RECLAIMABLE"]
    assert "NOT_OWNER" in codes(check("reclaim", line=frozen_line(), actor_may_end=False).blockers)
