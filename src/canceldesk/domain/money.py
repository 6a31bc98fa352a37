"""Money is integer minor units (fen) with a currency. Rounding happens once, here."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str = "CNY"

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("money amounts are integer minor units (fen), never floats")

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def _same(self, other: "Money") -> None:
        if self.currency != other.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")

    def as_dict(self) -> dict:
        return {"amount": self.amount, "currency": self.currency}


def prorate_down(price: int, numerator_days: int, denominator_days: int) -> int:
    """price × numerator ÷ denominator, rounded down to the fen — the one rounding rule."""
    if denominator_days <= 0:
        raise ValueError("a cycle has at least one day")
    numerator_days = max(0, min(numerator_days, denominator_days))
    return (price * numerator_days) // denominator_days


_LOCALES = {"zh": "zh_CN", "en": "en"}


def format_money(amount: int, currency: str, lang: str = "zh") -> str:
    """The one way money is shown: minor units of `currency`, in the reader's language.

    The currency is the pack's (or the product's) — never implied by the language: 5800 CNY reads
    "¥58.00" in Chinese and "CN¥58.00" in English; 5800 EUR reads "€58.00" in both.
    """
    locale = _LOCALES.get((lang or "zh")[:2], "zh_CN")
    return format_currency(Decimal(int(amount)) / 100, currency or "CNY", locale=locale)
