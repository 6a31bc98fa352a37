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
    # [channels.sms] / [channels.ivr]: which kinds each channel may start, the second factor it
    # collects per kind, and the channel's own limits (see ChannelRules).
    channels: dict[str, "ChannelRules"] = field(default_factory=dict)

    def channel(self, name: str) -> "ChannelRules":
        """A channel the pack does not name may start nothing."""
        return self.channels.get(name) or ChannelRules(name=name)
    # [save_offer]: allowed (bool), code, text_zh, text_en, kinds — at most one offer per request, beside cancel
    save_offer: dict = field(default_factory=dict)
    suggest_unused_days: int = 30               # the portal marks a subscription unused after this many days

    def step_up_factors(self, kind: str) -> tuple[str, ...]:
        return self.step_up.get(kind, ())

    def deadline_minutes(self, kind: str) -> int:
        return self.deadlines_minutes.get(kind, 24 * 60)

    @property
    def offers_withdrawal(self) -> bool:
        return self.withdrawal_days > 0


@dataclass(frozen=True)
class ChannelRules:
    """What one channel (sms, ivr) may do under a pack."""
    name: str
    kinds: tuple[str, ...] = ()
    step_up: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind → factors this channel collects
    max_commands_per_hour: int = 30
    list_valid_minutes: int = 120
    confirm_valid_minutes: int = 10
    agent_first_age: int | None = None

    def may_start(self, kind: str) -> bool:
        return kind in self.kinds

    def factors(self, kind: str) -> tuple[str, ...]:
        return self.step_up.get(kind, ())


def channel_rules_from_dict(name: str, data: dict) -> ChannelRules:
    d = dict(data)
    return ChannelRules(name=name, kinds=tuple(d.pop("kinds", ())),
                        step_up={k: tuple(v) for k, v in d.pop("step_up", {}).items()}, **d)


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
        channels={k: channel_rules_from_dict(k, v) for k, v in d.pop("channels", {}).items()},
        save_offer=dict(d.pop("save_offer", {})),
        **d,
    )
