"""The ports the service layer owns: what a use case needs from storage, as Protocols.

`adapters/sql_uow.py` (SQLAlchemy, wired by bootstrap) and the in-memory unit of work of the unit
tests (`tests/fakes.py`) both satisfy them, so `requests.create_request` and `requests.confirm` run
without a database. A unit of work is one transaction: repositories never commit, handlers do;
`flush` raises `domain.errors.IntegrityConflict` when the store refuses a write.

`UnitOfWork.session` is the adapters' SQL session (a store is made over it); the service layer hands it
on at most to a sibling that accepts a bare session, and never queries it (the import-linter contract
`service-layer-speaks-no-sql` holds the whole service layer to that). The other stores (audit_log, accounts,
escalations, batches, orders, runs, …) are attributes of the unit of work, each made on first use.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, ContextManager, Iterable, Protocol

from canceldesk.domain.execution import StepRecord
from canceldesk.domain.lifecycle import Request
from canceldesk.domain.model import Customer, Line, LineHistoryEntry, Product, Subscription

# The per-area stores of the unit of work (batches, orders, runs, accounts, …) live in store_ports.py.
from .store_ports import (  # noqa: F401  (re-exported: `ports.<Store>` is where callers find them)
    BatchRepository,
    BulkIntakeRepository,
    FleetGuardRepository,
    ImportRepository,
    EscalationStore,
    AccountStore,
    ComplaintStore,
    KeyStore,
    RetentionStore,
    DutyStore,
    OrderStore,
    PartnerStore,
    RunStore,
    DeliveryStore,
    RenewalStore,
    ReportStore,
    InsightStore)


class LineRepository(Protocol):
    def customer(self, customer_id: str) -> Customer | None: ...
    def line(self, msisdn: str, for_update: bool = False) -> Line | None: ...
    def lines_of(self, customer_id: str) -> list[Line]: ...
    def lines_reclaimable_by(self, customer_id: str) -> list[Line]: ...
    def active_secondaries(self, primary: str) -> list[str]: ...
    def subscriptions_with_products(self, msisdn: str) -> list[tuple[Subscription, Product]]: ...
    def line_history(self, msisdn: str, limit: int = 500) -> list[tuple[LineHistoryEntry, str | None, str | None]]: ...
    def admin_logins_on(self, msisdn: str) -> list[str]: ...  # enterprises this number is a live admin login of


class RequestRepository(Protocol):
    def add(self, obj: Any) -> None: ...
    # written at once, outside the ORM session; IntegrityConflict when its open target or key is taken
    def insert_request(self, req: Request) -> None: ...
    @property
    def snapshots(self) -> Snapshots: ...
    def request(self, tracking_no: str) -> Request | None: ...
    # the same, for a use case that changes it: its changes are written at the unit of work's flush/commit
    def request_detached(self, tracking_no: str) -> Request | None: ...
    def request_by_id(self, request_id: str) -> Request | None: ...
    def request_by_idempotency(self, requested_by: str, key: str) -> Request | None: ...
    def open_request_on(self, target: str) -> Request | None: ...
    def open_requests_on_line(self, msisdn: str) -> list[Request]: ...
    def requests_of(self, customer_id: str, limit: int = 100) -> list[Request]: ...
    def steps(self, request_id: str) -> dict[str, StepRecord]: ...
    def receipt(self, request_id: str) -> dict | None: ...


class Snapshots(Protocol):
    """Read-only copies (never written back) of what a pre-check reads."""
    def line(self, msisdn: str) -> Line | None: ...
    def subscriptions_with_products(self, msisdn: str) -> list[tuple[Subscription, Product]]: ...
    def open_requests_on_line(self, msisdn: str) -> list[Request]: ...


class OutboxRepository(Protocol):
    wrote_messages: bool

    def add_message(self, *, dedup_key: str, channel: str, to: str, event: str, ref: str | None, text: str,
                    at: datetime) -> None: ...


class Repository(LineRepository, RequestRepository, OutboxRepository, Protocol):
    """Everything the request use cases read and write."""


class UnitOfWork(Protocol):
    repo: Repository
    session: Any
    # the stores, each made on first use in this transaction (store_ports.py)
    audit_log: "AuditLog"
    accounts: "AccountStore"
    fleetguard: "FleetGuardRepository"
    batches: "BatchRepository"
    imports: "ImportRepository"
    orders: "OrderStore"
    partner_api: "PartnerStore"
    runs: "RunStore"
    deliveries: "DeliveryStore"
    escalations: "EscalationStore"
    complaints: "ComplaintStore"
    keys: "KeyStore"
    retention: "RetentionStore"
    duties: "DutyStore"
    renewals: "RenewalStore"
    reports: "ReportStore"
    insights: "InsightStore"

    def no_autoflush(self) -> ContextManager: ...  # what is added waits for the next flush (no reads flush it)
    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, exc_type, exc, tb) -> None: ...
    def commit(self) -> None: ...
    def flush(self) -> None: ...
    def rollback(self) -> None: ...


class KeyRing(Protocol):
    """The server's signing keys (adapters/crypto.py: KeyRing; bootstrap wires it)."""
    current_kid: str

    def audit_mac(self, payload: bytes, kid: str | None) -> str | None: ...
    def same(self, a: str | None, b: str | None) -> bool: ...


class AuditLog(Protocol):
    """The audit chain's rows (audit.py computes the links and MACs) and this transaction's events."""
    def defer(self, event: dict) -> None: ...  # written right before COMMIT; a rollback forgets it
    # (recorded events, [(TimelineEntry, Request | None)] flushed in this transaction), handed over once
    def take(self) -> tuple[list[dict], list[tuple[Any, Any]]]: ...
    def lock(self) -> None: ...  # serialises appenders until the transaction ends
    def head(self) -> dict | None: ...  # {seq, hash, key_id, mac}
    def last_link(self) -> tuple[int, str] | None: ...  # (seq, hash) of the last row
    def write(self, rows: list[dict], head: dict, head_exists: bool) -> None: ...
    def rows(self) -> Iterable[dict]: ...  # every row, oldest first
