"""The in-memory store and its repository (ports.Repository) for unit tests without a database."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from canceldesk.domain.errors import IntegrityConflict
from canceldesk.domain.lifecycle import OPEN, Request
from canceldesk.domain.model import Customer, Line, LineHistoryEntry, LineStatus, Product, Subscription




@dataclass
class Store:
    customers: dict[str, Customer] = field(default_factory=dict)
    lines: dict[str, Line] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    requests: dict[str, Request] = field(default_factory=dict)
    steps: dict[str, dict] = field(default_factory=dict)
    receipts: dict[str, dict] = field(default_factory=dict)
    outbox: list[dict] = field(default_factory=list)
    history: list[LineHistoryEntry] = field(default_factory=list)
    admin_logins: list[tuple[str, str]] = field(default_factory=list)  # (enterprise id, admin number)
    batches: dict[str, dict] = field(default_factory=dict)  # ports.BatchRepository's rows
    batch_items: dict[int, dict] = field(default_factory=dict)
    audit: list[dict] = field(default_factory=list)  # the events recorded (audit.record) by committed work
    audit_rows: list[dict] = field(default_factory=list)  # chain rows written through AuditLog.write
    audit_head: dict | None = None
    locks: dict[str, dict] = field(default_factory=dict)  # failure locks by subject (written at once)
    leases: dict[str, dict] = field(default_factory=dict)  # execution leases by request id
    payments: dict[str, dict] = field(default_factory=dict)  # by idempotency key
    ledger: list[dict] = field(default_factory=list)
    escalations: list[dict] = field(default_factory=list)
    commits: int = 0

    def table(self, kind: str) -> dict:
        return {"customer": self.customers, "line": self.lines, "product": self.products,
                "subscription": self.subscriptions, "request": self.requests}[kind]


KEYS = {Customer: ("customer", "id"), Line: ("line", "msisdn"), Product: ("product", "code"),
        Subscription: ("subscription", "id"), Request: ("request", "id")}


class InMemoryRepository:
    def __init__(self, store: Store):
        self.store = store
        self.seen: dict[tuple[str, str], object] = {}
        self.messages: list[dict] = []
        self.wrote_messages = False
        self.receipts: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.ledger: list[dict] = []

    # the unit of work's copies ------------------------------------------------------------------------
    def _get(self, kind: str, key: str | None):
        if key is None:
            return None
        if (kind, key) not in self.seen:
            obj = self.store.table(kind).get(key)
            if obj is None:
                return None
            self.seen[(kind, key)] = copy.deepcopy(obj)
        return self.seen[(kind, key)]

    def _all(self, kind: str) -> list:
        keys = set(self.store.table(kind)) | {k for t, k in self.seen if t == kind}
        return [self._get(kind, k) for k in sorted(keys)]

    # LineRepository ----------------------------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer | None:
        return self._get("customer", customer_id)

    def line(self, msisdn: str, for_update: bool = False) -> Line | None:
        return self._get("line", msisdn)

    def lines_of(self, customer_id: str) -> list[Line]:
        return [l for l in self._all("line") if l.customer_id == customer_id]

    def lines_many(self, msisdns: set[str]) -> dict[str, Line]:
        return {m: line for m in msisdns if (line := self.line(m)) is not None}

    def lines_to_read(self, msisdns: set[str]) -> dict[str, Line]:
        return self.lines_many(msisdns)

    def lines_reclaimable_by(self, customer_id: str) -> list[Line]:
        return [l for l in self._all("line") if l.former_customer_id == customer_id and l.status == LineStatus.FROZEN]

    def active_secondaries(self, primary: str) -> list[str]:
        return [l.msisdn for l in self._all("line") if l.primary_msisdn == primary and l.status == LineStatus.ACTIVE]

    def subscriptions_with_products(self, msisdn: str) -> list[tuple[Subscription, Product]]:
        return [(s, self._get("product", s.product_code)) for s in self._all("subscription") if s.msisdn == msisdn]

    def line_history(self, msisdn: str, limit: int = 500):
        own = {r.id: r for r in self._all("request")}
        return [(e, own[e.request_id].tracking_no if e.request_id in own else None,
                 own[e.request_id].customer_id if e.request_id in own else None)
                for e in self.store.history if e.msisdn == msisdn][:limit]

    def admin_logins_on(self, msisdn: str) -> list[str]:
        return sorted({eid for eid, m in self.store.admin_logins if m == msisdn})

    # RequestRepository -------------------------------------------------------------------------------
    def add(self, obj) -> None:
        kind, attr = KEYS[type(obj)]
        self.seen[(kind, getattr(obj, attr))] = obj

    def insert_request(self, req: Request) -> None:
        """As the SQL store: written as it stands now (later changes to `req` are not), and refused with
        IntegrityConflict when its open target or idempotency key is taken."""
        others = [r for r in self._all("request") if r.id != req.id]
        if (req.open_target and any(r.open_target == req.open_target for r in others)) or (
                req.idempotency_key and any((r.requested_by, r.idempotency_key) == (req.requested_by, req.idempotency_key)
                                            for r in others)):
            raise IntegrityConflict("unique")
        self.seen[("request", req.id)] = copy.deepcopy(req)

    def request(self, tracking_no: str) -> Request | None:
        return next((r for r in self._all("request") if r.tracking_no == tracking_no), None)

    @property
    def snapshots(self):
        return self  # the unit of work's copies: what a pre-check reads is never written back anyway

    def request_detached(self, tracking_no: str) -> Request | None:
        return self.request(tracking_no)  # this unit of work's copies are written at commit either way

    def request_by_id(self, request_id: str) -> Request | None:
        return self._get("request", request_id)

    def request_by_idempotency(self, requested_by: str, key: str) -> Request | None:
        return next((r for r in self._all("request") if (r.requested_by, r.idempotency_key) == (requested_by, key)), None)

    def open_request_on(self, target: str) -> Request | None:
        return next((r for r in self._all("request") if r.open_target == target), None)

    def open_requests_on_line(self, msisdn: str) -> list[Request]:
        return [r for r in self._all("request") if r.msisdn == msisdn and r.status in OPEN]

    def requests_of(self, customer_id: str, limit: int = 100) -> list[Request]:
        return sorted((r for r in self._all("request") if r.customer_id == customer_id),
                      key=lambda r: r.created_at, reverse=True)[:limit]

    def locked_requests(self, ids: list[str]) -> dict[str, Request]:
        return {i: r for i in sorted(ids) if (r := self._get("request", i)) is not None}

    def steps(self, request_id: str) -> dict:
        return copy.deepcopy(self.store.steps.get(request_id, {}))

    # receipts, payments, the ledger: held by this unit of work, written at commit (as the SQL
    # repository's buffered rows are) ---------------------------------------------------------------
    def receipt(self, request_id: str) -> dict | None:
        row = self.receipts.get(request_id) or self.store.receipts.get(request_id)
        return copy.deepcopy(row)

    def receipt_by_code(self, code: str) -> dict | None:
        return next((copy.deepcopy(r) for r in [*self.store.receipts.values(), *self.receipts.values()]
                     if r["verification_code"] == code), None)

    def add_receipt(self, **values) -> None:
        if values["request_id"] in self.store.receipts or values["request_id"] in self.receipts:
            raise IntegrityConflict("receipts.request_id")
        self.receipts[values["request_id"]] = dict(values)

    def payment(self, key: str) -> dict | None:
        return copy.deepcopy(self.payments.get(key) or self.store.payments.get(key))

    def add_payment(self, **values) -> None:
        key = values["idempotency_key"]
        if key in self.store.payments or key in self.payments:
            raise IntegrityConflict("payments.idempotency_key")
        self.payments[key] = dict(values)

    def add_ledger(self, request_id: str, settlement_name: str, entries, currency: str, at: datetime) -> None:
        self.ledger += [{"request_id": request_id, "settlement": settlement_name, "account": e.account,
                         "amount": e.amount, "currency": currency, "memo": e.memo, "at": at} for e in entries]

    def ledger_of(self, request_id: str) -> list[dict]:
        return [dict(e) for e in self.store.ledger + self.ledger if e["request_id"] == request_id]

    def forget_held(self) -> None:
        self.receipts, self.payments, self.ledger = {}, {}, []

    # OutboxRepository --------------------------------------------------------------------------------
    def add_message(self, *, dedup_key: str, channel: str, to: str, event: str, ref: str | None, text: str,
                    at: datetime) -> None:
        if any(m["dedup_key"] == dedup_key for m in self.store.outbox + self.messages):
            return
        self.messages.append(dict(dedup_key=dedup_key, channel=channel, to=to, event=event, ref=ref, text=text,
                                  created_at=at))
        self.wrote_messages = True
