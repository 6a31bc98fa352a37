"""Policy packs: a jurisdiction's rules as data (policies/*.toml), read into one frozen object."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PolicyPack:
    code: str
    name: str
    timezone: str
    currency: str
    locale: str
    freeze_days: int
    renewal_reminder_days: int | None          # cn: 5 days before each auto-renewal
    renewal_reminder_window: tuple[int, int] | None  # us-ca: 15–45 days, for terms >= 1 year
    renewal_reminder_min_term_days: int
    no_reminder_no_charge: bool
    price_change_notice_days: int | None
    withdrawal_days: int                        # 0: no statutory withdrawal right
    withdraw_button_text: str
    withdraw_confirm_text: str
    contract_lock: str                          # "line": as the contract says; "fee": never blocks
    installment: str                            # "block" | "fee"
    processing_fee: int
    review_refund_over: int | None              # refunds above this go to a person first
    save_offer_beside_cancel: bool
    step_up: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind → any one of these factors
    deadlines_minutes: dict[str, int] = field(default_factory=dict)
    retention_days: dict[str, int] = field(default_factory=dict)
    # the counter agent sees the full name on record, to compare with the card in hand (elsewhere masked)
    counter_shows_full_name: bool = False

    def step_up_factors(self, kind: str) -> tuple[str, ...]:
        return self.step_up.get(kind, ())

    def deadline_minutes(self, kind: str) -> int:
        return self.deadlines_minutes.get(kind, 24 * 60)

    @property
    def offers_withdrawal(self) -> bool:
        return self.withdrawal_days > 0


def pack_from_dict(data: dict) -> PolicyPack:
    d = dict(data)
    for optional in ("renewal_reminder_days", "price_change_notice_days", "review_refund_over"):
        d.setdefault(optional, None)
    window = d.pop("renewal_reminder_window", None)
    return PolicyPack(
        renewal_reminder_window=tuple(window) if window else None,
        step_up={k: tuple(v) for k, v in d.pop("step_up", {}).items()},
        deadlines_minutes=dict(d.pop("deadlines_minutes", {})),
        retention_days=dict(d.pop("retention_days", {})),
        **d,
    )
