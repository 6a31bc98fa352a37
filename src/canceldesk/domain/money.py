"""Money is integer minor units (fen) with a currency. Rounding happens once, here."""
from __future__ import annotations

from dataclasses import dataclass


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


def format_yuan(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    a = abs(amount)
    return f"{sign}¥{a // 100}.{a % 100:02d}"
