"""The things a subscriber can end: customers, lines, products, subscriptions.

Plain dataclasses. The ORM maps them imperatively (adapters/orm.py), so nothing here knows
about a database. A line's and a subscription's status change only through their named
transitions (`Line.close`, `Line.reclaim`, `Line.recycle`, `Subscription.end_now`, …), each
checked against its table (LINE_TRANSITIONS, SUBSCRIPTION_TRANSITIONS); a line's transitions
append to its history (`LineHistoryEntry`, append-only).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from .transitions import IllegalTransition, Machine


class CustomerKind(StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"


class LineStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"      # 停机 (e.g. for arrears)
    INACTIVE = "inactive"        # never activated
    FROZEN = "frozen"            # closed, inside the freeze window: the former owner may reclaim
    RECYCLABLE = "recyclable"    # freeze window over; the number goes back to the pool


LS = LineStatus
LINE_TRANSITIONS: dict[LineStatus, frozenset[LineStatus]] = {
    LS.ACTIVE: frozenset({LS.SUSPENDED, LS.FROZEN}),
    LS.SUSPENDED: frozenset({LS.ACTIVE, LS.FROZEN}),   # a suspended line may be closed once arrears are paid
    LS.INACTIVE: frozenset({LS.ACTIVE}),
    LS.FROZEN: frozenset({LS.ACTIVE, LS.RECYCLABLE}),  # reclaimed by its former owner, or the window ends
    LS.RECYCLABLE: frozenset(),                        # back to the operator's pool: canceldesk is done with it
}
LINES = Machine("line", LINE_TRANSITIONS)


class ProductKind(StrEnum):
    PLAN = "plan"
    VAS = "vas"
    MEMBERSHIP = "membership"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    ENDING = "ending"   # ended, access runs to period end
    ENDED = "ended"


SS = SubscriptionStatus
SUBSCRIPTION_TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    SS.ACTIVE: frozenset({SS.ENDING, SS.ENDED}),
    SS.ENDING: frozenset({SS.ENDED}),
    SS.ENDED: frozenset(),
}
SUBSCRIPTIONS = Machine("subscription", SUBSCRIPTION_TRANSITIONS)
RENEWAL_STOPPED = "renewal_stopped"  # not a status: the name of the move that turns auto-renewal off


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
class LineHistoryEntry:
    """One change of a line's status: append-only, written by the line's transitions."""
    msisdn: str
    at: datetime
    from_status: str | None
    to_status: str
    actor: str
    channel: str
    request_id: str | None = None
    reason: str | None = None
    id: int | None = None

    def as_dict(self, with_actor: bool = True) -> dict:
        return {"at": self.at.isoformat(), "from": self.from_status, "to": self.to_status,
                "by": self.actor if with_actor else self.actor.split(":", 1)[0], "channel": self.channel,
                "request_id": self.request_id, "reason": self.reason}


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
    # Appended to by the transitions only; the database keeps every entry (adapters map it write-only:
    # a loaded line starts with an empty list, read the history with the repository).
    history: list[LineHistoryEntry] = field(default_factory=list)

    # the class of its history entries (not a field): a store may give a line it writes itself a
    # cheaper twin of both (adapters/request_rows.py)
    entry_class = LineHistoryEntry

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

    def transition(self, to: LineStatus | str, at: datetime, actor: str, channel: str,
                   request_id: str | None = None, reason: str | None = None) -> LineHistoryEntry:
        """The one way a line's status changes: checked against LINE_TRANSITIONS, recorded in its history."""
        current = str(self.status)
        LINES.check(current, to)
        self.status = LineStatus(to)
        entry = self.entry_class(self.msisdn, at, current, str(LineStatus(to)), actor, channel, request_id, reason)
        self.history.append(entry)
        return entry

    def close(self, at: datetime, freeze_days: int, actor: str = "system", channel: str = "worker",
              request_id: str | None = None) -> LineHistoryEntry:
        """Closed (销户): frozen for `freeze_days`, inside which the former owner may reclaim it."""
        entry = self.transition(LineStatus.FROZEN, at, actor, channel, request_id, "closed")
        self.closed_at, self.frozen_until = at, at + timedelta(days=freeze_days)
        self.former_customer_id = self.customer_id
        return entry

    def reclaim(self, at: datetime, owner: str, actor: str = "system", channel: str = "worker",
                request_id: str | None = None) -> LineHistoryEntry:
        """Reclaimed (号码找回) inside the freeze window: active again, for `owner`."""
        entry = self.transition(LineStatus.ACTIVE, at, actor, channel, request_id, "reclaimed")
        self.closed_at = self.frozen_until = None
        self.customer_id = owner
        return entry

    def recycle(self, at: datetime, actor: str = "system", channel: str = "scheduler") -> LineHistoryEntry:
        """The freeze window is over: the number goes back to the pool."""
        return self.transition(LineStatus.RECYCLABLE, at, actor, channel, None, "freeze window over")

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

    def _move(self, to: SubscriptionStatus) -> None:
        SUBSCRIPTIONS.check(str(self.status), to)
        self.status = to

    def end_now(self, at: datetime) -> None:
        """Ended at once: no access, no renewal from `at`."""
        self._move(SubscriptionStatus.ENDED)
        self.auto_renew, self.access_ends_at, self.ended_at = False, at, at

    def end_at_period_end(self, access_end: datetime) -> None:
        """Unsubscribed, access runs to `access_end` (the period end); it then lapses."""
        self._move(SubscriptionStatus.ENDING)
        self.auto_renew, self.access_ends_at = False, access_end

    def stop_renewal(self, access_end: datetime) -> None:
        """Renewal off (取消自动续费): still active until `access_end`, no further charge."""
        if self.status != SubscriptionStatus.ACTIVE:
            raise IllegalTransition(str(self.status), RENEWAL_STOPPED, "subscription")
        self.auto_renew, self.access_ends_at = False, access_end

    def lapse(self, due_at: datetime) -> None:
        """Its period is over and it does not renew (ending, renewal off, declined, or line gone)."""
        self._move(SubscriptionStatus.ENDED)
        self.auto_renew = False
        self.ended_at = self.access_ends_at = self.access_ends_at or due_at
