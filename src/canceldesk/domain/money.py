"""Money is integer minor units (fen) with a currency. Rounding happens once, here."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, format_decimal


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


@lru_cache(maxsize=None)
def _locale(name: str) -> Locale:
    """Parsed once: babel re-reads its locale directory on every parse of a name (a hot path: every notice)."""
    return Locale.parse(name)


def format_money(amount: int, currency: str, lang: str = "zh") -> str:
    """The one way money is shown: minor units of `currency`, in the reader's language.

    The currency is the pack's (or the product's) — never implied by the language: 5800 CNY reads
    "¥58.00" in Chinese and "CN¥58.00" in English; 5800 EUR reads "€58.00" in both.
    """
    locale = _LOCALES.get((lang or "zh")[:2], "zh_CN")
    return format_currency(Decimal(int(amount)) / 100, currency or "CNY", locale=_locale(locale))


# How an amount is said aloud (the phone channel): the number, then the unit as a word.
_SPOKEN_UNITS = {"CNY": ("元", "yuan"), "EUR": ("欧元", "euros"), "USD": ("美元", "dollars")}


def spoken_money(amount: int, currency: str, lang: str = "zh") -> str:
    """Money for a voice prompt: "15.00元" / "15.00 yuan"; a currency without a spoken unit reads as format_money."""
    units = _SPOKEN_UNITS.get(currency or "CNY")
    if units is None:
        return format_money(amount, currency, lang)
    en = (lang or "zh").startswith("en")
    number = format_decimal(Decimal(int(amount)) / 100, format="#,##0.00", locale=_locale("en" if en else "zh_CN"))
    return f"{number} {units[1]}" if en else f"{number}{units[0]}"
