"""Policy packs: a jurisdiction's numbers, as DOMAIN.md states them, read from policies/*.toml."""
from __future__ import annotations

import pytest

from canceldesk.bootstrap import load_policy
from canceldesk.domain.policy import PolicyPack, pack_from_dict

PACKS = ("cn", "eu", "us-ca")


@pytest.fixture(scope="module", params=PACKS)
def pack(request) -> PolicyPack:
    return load_policy(request.param)


def test_every_pack_loads_with_a_real_time_zone_and_currency(pack):
    from zoneinfo import ZoneInfo
    assert ZoneInfo(pack.timezone)
    assert pack.currency in {"CNY", "EUR", "USD"}
    assert pack.freeze_days > 0
    assert pack.processing_fee == 0, "cancellation path: no unreasonable fee"
    assert pack.save_offer_beside_cancel
    assert pack.contract_lock in {"line", "fee"} and pack.installment in {"block", "fee"}


def test_every_pack_sets_a_deadline_for_every_request_kind(pack):
    for kind in ("close_line", "unsubscribe", "cancel_renewal", "withdraw", "reclaim"):
        assert pack.deadline_minutes(kind) > 0


def test_an_unknown_pack_is_refused():
    with pytest.raises(FileNotFoundError):
        load_policy("atlantis")


def test_cn_pack_numbers():
    cn = load_policy("cn")
    assert (cn.code, cn.timezone, cn.currency) == ("cn", "Asia/Shanghai", "CNY")
    assert cn.renewal_reminder_days == 5, "SAMR Art. 18: remind 5 days before each auto-renewal"
    assert cn.no_reminder_no_charge, "no reminder delivered in time → the renewal is not charged"
    assert cn.price_change_notice_days == 0, "before each deduction"
    assert cn.freeze_days == 90
    assert cn.retention_days["real_name"] == 730, "real-name records: 2 years"
    assert cn.retention_days["billing_raw"] == 150, "raw billing records: 5 months"
    assert not cn.offers_withdrawal and cn.withdrawal_days == 0
    assert cn.contract_lock == "line", "a contract lock blocks until released unless the contract names a fee"
    assert cn.installment == "block"


def test_eu_pack_numbers():
    eu = load_policy("eu")
    assert (eu.timezone, eu.currency) == ("Europe/Berlin", "EUR")
    assert eu.offers_withdrawal and eu.withdrawal_days == 14
    assert eu.withdraw_button_text == "withdraw from contract here"
    assert eu.withdraw_confirm_text == "confirm withdrawal"
    assert eu.contract_lock == "fee"


def test_us_ca_pack_numbers():
    ca = load_policy("us-ca")
    assert (ca.timezone, ca.currency) == ("America/Los_Angeles", "USD")
    assert ca.renewal_reminder_window == (15, 45), "remind 15–45 days before renewal"
    assert ca.renewal_reminder_min_term_days == 365, "for terms of a year or more"
    assert ca.no_reminder_no_charge
    assert 7 <= ca.price_change_notice_days <= 30
    assert ca.retention_days["consent"] == 3 * 365, "consent proof: 3 years"
    assert ca.retention_days["consent_after_termination"] == 365, "…or 1 year after termination, the longer"
    assert not ca.offers_withdrawal
    assert ca.contract_lock == "fee"


def test_a_pack_is_frozen_data():
    cn = load_policy("cn")
    with pytest.raises(AttributeError):
        cn.freeze_days = 1  # type: ignore[misc]
    assert isinstance(cn.step_up_factors("close_line"), tuple) and cn.step_up_factors("close_line")
    assert cn.step_up_factors("unsubscribe") == ()


def test_a_minimal_pack_dict_gets_safe_defaults():
    pack = pack_from_dict({
        "code": "xx", "name": "test", "timezone": "UTC", "currency": "CNY", "locale": "en",
        "freeze_days": 30, "renewal_reminder_min_term_days": 0, "no_reminder_no_charge": False,
        "withdrawal_days": 0, "withdraw_button_text": "w", "withdraw_confirm_text": "c",
        "contract_lock": "fee", "installment": "fee", "processing_fee": 0, "save_offer_beside_cancel": True,
    })
    assert pack.renewal_reminder_days is None and pack.renewal_reminder_window is None
    assert pack.deadline_minutes("close_line") == 24 * 60
    assert pack.retention_days == {} and pack.step_up == {}
