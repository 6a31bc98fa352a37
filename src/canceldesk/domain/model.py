"""The things a subscriber can end: customers, lines, products, subscriptions.

Plain dataclasses. The ORM maps them imperatively (adapters/orm.py), so nothing here knows
about a database.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class CustomerKind(StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"


class LineStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"      # 停机 (e.g. for arrears)
    INACTIVE = "inactive"        # never activated
    FROZEN = "frozen"            # closed, inside the freeze window: the former owner may reclaim
    RECYCLABLE = "recyclable"    # freeze window over; the number goes back to the pool


class ProductKind(StrEnum):
    PLAN = "plan"
    VAS = "vas"
    MEMBERSHIP = "membership"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    ENDING = "ending"   # ended, access runs to period end
    ENDED = "ended"


@dataclass(eq=False)
class EnterpriseAdmin:
    msisdn: str
    name: str
    enterprise_id: str = ""
    id: int | None = None


@dataclass(eq=False)
class Customer:
    """A real-name identity (实名): a person or an enterprise."""
    id: str
    kind: str
    name: str
    id_doc_type: str
    id_doc_number: str
    id_doc_digest: str = ""
    admins: list[EnterpriseAdmin] = field(default_factory=list)
    anonymised_at: datetime | None = None


@dataclass(eq=False)
class Product:
    code: str
    kind: str
    name_zh: str
    name_en: str
    price: int
    period: str = "month"  # day | week | month | quarter | year
    unsubscribe_effect: str = "end_of_cycle"  # or immediate
    refund: str = "none"  # or prorated
    currency: str = "CNY"
    partner: str | None = None  # the provider that runs it (memberships, VAS)

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang.startswith("en") else self.name_zh


@dataclass(eq=False)
class Line:
    """A phone number (号码) and its account."""
    msisdn: str
    customer_id: str
    status: str = LineStatus.ACTIVE
    service_password_hash: str | None = None
    cash_balance: int = 0
    gift_balance: int = 0
    deposit: int = 0
    unbilled_usage: int = 0
    arrears: int = 0
    installment_due: int = 0
    primary_msisdn: str | None = None
    port_out_pending: bool = False
    contract_ends_on: date | None = None
    contract_early_termination: str | None = None  # "block" | "fee"
    contract_fee: int = 0
    bindings: list = field(default_factory=list)
    currency: str = "CNY"
    closed_at: datetime | None = None
    frozen_until: datetime | None = None
    former_customer_id: str | None = None
    version: int = 1

    @property
    def is_active(self) -> bool:
        return self.status == LineStatus.ACTIVE

    def held_by(self, customer_id: str | None) -> bool:
        """Whose number this is, as a key of authority: the owner while it is in service; the
        former owner only while it is frozen (to reclaim it); nobody once it is recyclable — and a
        number re-issued to someone else is theirs alone (the importer clears the former owner)."""
        if not customer_id or self.status == LineStatus.RECYCLABLE:
            return False
        if self.status == LineStatus.FROZEN:
            return customer_id == self.former_customer_id == self.customer_id
        return customer_id == self.customer_id

    def contract_runs_on(self, today: date) -> bool:
        return self.contract_ends_on is not None and today <= self.contract_ends_on


@dataclass(eq=False)
class Subscription:
    """A product on a line for the half-open cycle [period_start, period_end)."""
    id: str
    msisdn: str
    product_code: str
    period_start: date
    period_end: date
    auto_renew: bool = True
    status: str = SubscriptionStatus.ACTIVE
    started_on: date | None = None
    access_ends_at: datetime | None = None
    ended_at: datetime | None = None
    renewal_postponed: bool = False
    last_reminder_for: date | None = None

    @property
    def is_active(self) -> bool:
        return self.status == SubscriptionStatus.ACTIVE

    @property
    def days_in_cycle(self) -> int:
        return (self.period_end - self.period_start).days
