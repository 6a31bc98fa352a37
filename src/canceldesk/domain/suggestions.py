"""What a subscriber could stop: unused, duplicated, risen in price, renewing right after a trial.

Pure. Facts in (the subscriptions on a line, their products and optional usage facts from the
import), suggestions out, each with the saving per month and the one ending that acts on it.
The wording is neutral: it states a fact and what stopping would save, never urges.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .intent import Target, _target_profile

REASONS = ("unused", "duplicate", "price_rise", "renews_after_trial")
CONTENT_CATEGORIES = ("video", "music", "cloud", "ringtone", "news", "data")
TRIAL_WINDOW_DAYS = 45
MONTHS_PER = {"day": 12 / 365, "week": 12 / 52, "month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Facts:
    subscription_id: str
    msisdn: str
    product_kind: str
    name_zh: str
    name_en: str
    price: int
    period: str
    auto_renew: bool
    period_end: date
    partner: str | None = None
    last_used_on: date | None = None
    previous_price: int | None = None
    price_changed_on: date | None = None
    trial_ended_on: date | None = None

    def name(self, lang: str) -> str:
        return self.name_en if lang.startswith("en") else self.name_zh


@dataclass(frozen=True)
class Suggestion:
    subscription_id: str
    reason: str
    saving_per_month: int            # fen
    action: str                      # cancel_renewal | unsubscribe
    text: str
    details: dict = field(default_factory=dict)


def monthly(price: int, period: str) -> int:
    """A price per period as fen per month, rounded down (a yearly ¥88 is ¥7.33 a month)."""
    return int(price / MONTHS_PER.get(period, 1))


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def _categories(f: Facts) -> set[str]:
    cats, _brands, _words = _target_profile(Target(msisdn=f.msisdn, subscription_id=f.subscription_id,
                                                   product_kind=f.product_kind, name_zh=f.name_zh,
                                                   name_en=f.name_en, partner=f.partner))
    # a video ringback tone is a ringtone, not a second video service
    return {c for c in cats if c in CONTENT_CATEGORIES} - ({"video"} if "ringtone" in cats else set())


def suggest(facts: list[Facts], today: date, unused_days: int = 30, lang: str = "zh") -> list[Suggestion]:
    """Suggestions for the active, paid, endable subscriptions among `facts` (one per reason)."""
    endable = [f for f in facts if f.product_kind in ("vas", "membership") and f.price > 0]
    out: list[Suggestion] = []
    en = lang.startswith("en")
    for f in endable:
        action = "cancel_renewal" if f.product_kind == "membership" and f.auto_renew else "unsubscribe"
        save = monthly(f.price, f.period)

        def add(reason: str, zh: str, en_text: str, **details) -> None:
            text = (en_text if en else zh) + (f" Stopping it saves about {_yuan(save)} a month." if en
                                              else f"停用每月约可节省 {_yuan(save)}。")
            out.append(Suggestion(f.subscription_id, reason, save, action, text, details))

        if f.last_used_on is not None and (today - f.last_used_on).days >= unused_days:
            days = (today - f.last_used_on).days
            add("unused", f"最近 {days} 天没有使用记录（上次使用 {f.last_used_on}）。",
                f"No use recorded for {days} days (last used {f.last_used_on}).", days=days)
        others = [o for o in endable if o is not f and _categories(o) & _categories(f)]
        if others:
            add("duplicate", f"与 {'、'.join(o.name('zh') for o in others)} 属于同类服务。",
                f"Same kind of service as {', '.join(o.name('en') for o in others)}.",
                **{"with": [o.subscription_id for o in others]})
        if f.previous_price is not None and f.previous_price < f.price:
            when = f" ({f.price_changed_on})" if f.price_changed_on else ""
            add("price_rise", f"价格由 {_yuan(f.previous_price)} 调整为 {_yuan(f.price)}{when}。",
                f"The price changed from {_yuan(f.previous_price)} to {_yuan(f.price)}{when}.",
                previous_price=f.previous_price)
        if (f.trial_ended_on is not None and f.auto_renew and 0 <= (today - f.trial_ended_on).days <= TRIAL_WINDOW_DAYS):
            add("renews_after_trial", f"试用已于 {f.trial_ended_on} 结束，{f.period_end} 将按 {_yuan(f.price)} 续费。",
                f"The trial ended on {f.trial_ended_on}; it renews at {_yuan(f.price)} on {f.period_end}.",
                trial_ended_on=f.trial_ended_on.isoformat())
    return out
