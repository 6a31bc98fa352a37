"""The ports the service layer owns: what a use case needs from storage, as Protocols.

`adapters/sql_uow.py` (SQLAlchemy, wired by bootstrap) and the in-memory unit of work of the unit
tests (`tests/fakes.py`) both satisfy them, so `requests.create_request` and `requests.confirm` run
without a database. A unit of work is one transaction: repositories never commit, handlers do;
`flush` raises `domain.errors.IntegrityConflict` when the store refuses a write.

`UnitOfWork.session` is the SQL session for the service-layer modules not yet behind these ports
(auth, audit, batches, …); the request use cases touch it only on the counter's in-person path.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Protocol

from canceldesk.domain.execution import StepRecord
from canceldesk.domain.lifecycle import Request
from canceldesk.domain.model import Customer, Line, LineHistoryEntry, Product, Subscription


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
    def request(self, tracking_no: str) -> Request | None: ...
    def request_by_id(self, request_id: str) -> Request | None: ...
    def request_by_idempotency(self, requested_by: str, key: str) -> Request | None: ...
    def open_request_on(self, target: str) -> Request | None: ...
    def open_requests_on_line(self, msisdn: str) -> list[Request]: ...
    def requests_of(self, customer_id: str, limit: int = 100) -> list[Request]: ...
    def steps(self, request_id: str) -> dict[str, StepRecord]: ...
    def receipt(self, request_id: str) -> dict | None: ...


class OutboxRepository(Protocol):
    wrote_messages: bool

    def add_message(self, *, dedup_key: str, channel: str, to: str, event: str, ref: str | None, text: str,
                    at: datetime) -> None: ...


class Repository(LineRepository, RequestRepository, OutboxRepository, Protocol):
    """Everything the request use cases read and write."""


class UnitOfWork(Protocol):
    repo: Repository
    session: Any
    # --- helper 2 ---
    audit_log: "AuditLog"

    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, exc_type, exc, tb) -> None: ...
    def commit(self) -> None: ...
    def flush(self) -> None: ...
    def rollback(self) -> None: ...


# --- helper 2 ---

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
