"""An in-memory unit of work (service_layer/ports.py) for unit tests without a database.

Each unit of work sees copies of the stored objects (like a session's identity map): what it
changes or adds reaches the store only on `commit`; leaving without committing forgets it. `flush`
enforces the store's uniqueness rules like the SQL schema does (one open request per target, one
request per idempotency key) by raising `IntegrityConflict`.
"""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from canceldesk.domain.errors import IntegrityConflict
from canceldesk.domain.lifecycle import OPEN, Request
from canceldesk.domain.model import Customer, Line, LineHistoryEntry, LineStatus, Product, Subscription
from canceldesk.domain.policy import PolicyPack


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

    def request(self, tracking_no: str) -> Request | None:
        return next((r for r in self._all("request") if r.tracking_no == tracking_no), None)

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

    def steps(self, request_id: str) -> dict:
        return copy.deepcopy(self.store.steps.get(request_id, {}))

    def receipt(self, request_id: str) -> dict | None:
        return self.store.receipts.get(request_id)

    # OutboxRepository --------------------------------------------------------------------------------
    def add_message(self, *, dedup_key: str, channel: str, to: str, event: str, ref: str | None, text: str,
                    at: datetime) -> None:
        if any(m["dedup_key"] == dedup_key for m in self.store.outbox + self.messages):
            return
        self.messages.append(dict(dedup_key=dedup_key, channel=channel, to=to, event=event, ref=ref, text=text,
                                  created_at=at))
        self.wrote_messages = True


FLEET_FLAGS = {"": lambda l: True, "active": lambda l: l.status == LineStatus.ACTIVE,
               "not_active": lambda l: l.status != LineStatus.ACTIVE, "arrears": lambda l: l.arrears > 0,
               "port_out": lambda l: l.port_out_pending, "contract": lambda l: l.contract_ends_on is not None}
SHOW = {"": lambda r: True, "eligible": lambda r: r["eligible"] is True, "blocked": lambda r: r["eligible"] is False,
        "completed": lambda r: r["status"] == "completed", "not_completed": lambda r: r["status"] != "completed"}


class InMemoryBatchStore:
    """ports.BatchRepository over a Store: this unit of work's copies of the batches and their items,
    written back on commit (like InMemoryRepository's objects)."""

    def __init__(self, store: Store, repo: InMemoryRepository):
        self.store, self.repo = store, repo
        self.batches = copy.deepcopy(store.batches)
        self.items = copy.deepcopy(store.batch_items)

    def commit(self) -> None:
        self.store.batches, self.store.batch_items = copy.deepcopy(self.batches), copy.deepcopy(self.items)

    # the fleet
    def _fleet(self, enterprise_id: str, digits: str, flag: str) -> list[Line]:
        return [l for l in self.repo._all("line")
                if l.customer_id == enterprise_id and digits in l.msisdn and FLEET_FLAGS[flag](l)]

    def fleet_count(self, enterprise_id, digits, flag) -> int:
        return len(self._fleet(enterprise_id, digits, flag))

    def fleet_page(self, enterprise_id, digits, flag, limit, offset) -> list[dict]:
        return [{"msisdn": l.msisdn, "status": l.status, "arrears": l.arrears, "cash_balance": l.cash_balance,
                 "port_out_pending": l.port_out_pending, "contract_ends_on": l.contract_ends_on,
                 "currency": l.currency} for l in self._fleet(enterprise_id, digits, flag)[offset:offset + limit]]

    def fleet_numbers(self, enterprise_id, digits, flag, limit) -> list[str]:
        return [l.msisdn for l in self._fleet(enterprise_id, digits, flag)][:limit]

    def open_requests_by_line(self, msisdns) -> dict[str, str]:
        return {r.msisdn: r.tracking_no for r in self.repo._all("request") if r.msisdn in msisdns and r.open_target}

    def owned_lines(self, enterprise_id, msisdns) -> set[str]:
        return {m for m in msisdns if (l := self.repo.line(m)) is not None and l.customer_id == enterprise_id}

    # batches
    def add(self, batch: dict, msisdns: list[str]) -> None:
        self.batches[batch["id"]] = dict(batch)
        first = max(self.items, default=0) + 1
        for i, m in enumerate(msisdns):
            self.items[first + i] = {"id": first + i, "batch_id": batch["id"], "position": i + 1, "msisdn": m,
                                     "eligible": None, "blockers": [], "warnings": [], "refund": None,
                                     "request_id": None, "tracking_no": None, "error_code": None,
                                     "error_message": None, "item_ref": None, "action": None, "item_kind": None,
                                     "subscription_id": None}

    def get(self, batch_id):
        b = self.batches.get(batch_id)
        return dict(b) if b is not None else None

    def touch(self, batch_id, at, **values) -> None:
        self.batches[batch_id].update(updated_at=at, **values)

    def move(self, batch_id, current, to, at, **values) -> bool:
        if self.batches[batch_id]["phase"] != current:
            return False
        self.batches[batch_id].update(phase=to, updated_at=at, **values)
        return True

    def recent_ids(self, enterprise_id, limit) -> list[str]:
        mine = [b for b in self.batches.values() if b["enterprise_id"] == enterprise_id]
        return [b["id"] for b in sorted(mine, key=lambda b: b["created_at"], reverse=True)][:limit]

    # items
    def _of(self, batch_id) -> list[dict]:
        return sorted((i for i in self.items.values() if i["batch_id"] == batch_id), key=lambda i: i["position"])

    def items_to_precheck(self, batch_id, limit):
        return [(i["id"], i["msisdn"]) for i in self._of(batch_id) if i["eligible"] is None][:limit]

    def items_to_submit(self, batch_id, positions, limit):
        return [(i["id"], i["msisdn"], i["item_kind"], i["subscription_id"], i["item_ref"]) for i in self._of(batch_id)
                if i["request_id"] is None and i["error_code"] is None
                and (positions is None or positions[0] <= i["position"] <= positions[1])][:limit]

    def set_item(self, item_id, **values) -> None:
        self.items[item_id].update(values)

    def set_item_outcomes(self, outcomes) -> None:
        for o in outcomes:
            self.items[o["id"]].update({k: o.get(k) for k in ("request_id", "tracking_no", "error_code",
                                                              "error_message")})

    def eligible_warnings(self, batch_id):
        return [i["warnings"] or [] for i in self._of(batch_id) if i["eligible"] is True]

    def _with_request(self, batch_id) -> list[dict]:
        out = []
        for i in self._of(batch_id):
            req = self.repo.request_by_id(i["request_id"]) if i["request_id"] else None
            out.append({**i, "status": req.status if req else None, "reject_codes": req.reject_codes if req else None,
                        "completed_at": req.completed_at if req else None})
        return out

    def request_statuses(self, batch_id):
        return [r["status"] for r in self._with_request(batch_id)]

    def progress_rows(self, batch_id):
        return [{k: r[k] for k in ("eligible", "warnings", "request_id", "error_code", "status", "refund")}
                for r in self._with_request(batch_id)]

    def results(self, batch_id, show, limit=None, offset=0):
        rows = [r for r in self._with_request(batch_id) if SHOW[show](r)]
        return rows[offset:] if limit is None else rows[offset:offset + limit]

    def results_count(self, batch_id, show) -> int:
        return len(self.results(batch_id, show))


class InMemoryAuditLog:
    """ports.AuditLog: recorded events reach `Store.audit` on commit (no chain: no key here)."""

    def __init__(self, store: Store):
        self.store = store
        self.deferred: list[dict] = []

    def defer(self, event: dict) -> None:
        self.deferred.append(event)

    def take(self):
        events, self.deferred = self.deferred, []
        return events, []

    def lock(self) -> None:
        pass

    def head(self) -> dict | None:
        return None if self.store.audit_head is None else dict(self.store.audit_head)

    def last_link(self):
        return (self.store.audit_rows[-1]["seq"], self.store.audit_rows[-1]["hash"]) if self.store.audit_rows else None

    def write(self, rows: list[dict], head: dict, head_exists: bool) -> None:
        for row in rows:
            self.store.audit_rows.append({"id": len(self.store.audit_rows) + 1, **row})
        self.store.audit_head = dict(head)

    def rows(self):
        return iter(list(self.store.audit_rows))


class InMemoryAccountStore:
    """ports.AccountStore, the parts the request use cases and the saga reach: failure locks and the
    enterprise-admin logins on a number (`Store.admin_logins`; ending one removes it)."""

    def __init__(self, store: Store):
        self.store = store
        self.locks = store.locks

    def lock_state(self, subject: str) -> dict | None:
        return self.locks.get(subject)

    def save_lock(self, subject: str, values: dict, exists: bool) -> None:
        self.locks[subject] = dict(values)

    def clear_lock(self, subject: str) -> None:
        self.locks.pop(subject, None)

    def enterprise_admin(self, msisdn: str):
        return next(((i + 1, eid) for i, (eid, m) in enumerate(self.store.admin_logins) if m == msisdn), None)

    def live_admin_logins(self, msisdns: list[str]) -> list[tuple[str, str]]:
        return sorted({(m, eid) for eid, m in self.store.admin_logins if m in msisdns}, key=lambda x: x[1])

    def live_admin_numbers(self, enterprise_id: str) -> list[str]:
        return sorted({m for eid, m in self.store.admin_logins if eid == enterprise_id})

    def end_admin_login(self, enterprise_id: str, msisdn: str, now, reason: str) -> None:
        self.store.admin_logins.remove((enterprise_id, msisdn))


class InMemoryUnitOfWork:
    """ports.UnitOfWork over a Store. `session` is None: nothing here speaks SQL."""

    session = None

    def __init__(self, store: Store, on_messages: Callable[[], None] | None = None):
        self.store = store
        self._on_messages = on_messages
        self.repo: InMemoryRepository | None = None

    def __enter__(self) -> "InMemoryUnitOfWork":
        self.repo = InMemoryRepository(self.store)
        self.batches = InMemoryBatchStore(self.store, self.repo)
        self.audit_log = InMemoryAuditLog(self.store)
        self.accounts = InMemoryAccountStore(self.store)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.repo.seen.clear()  # what was not committed is forgotten
        self.repo.messages.clear()
        self.audit_log.deferred.clear()

    def flush(self) -> None:
        requests = self.repo._all("request")
        targets = [r.open_target for r in requests if r.open_target]
        keys = [(r.requested_by, r.idempotency_key) for r in requests if r.idempotency_key]
        if len(targets) != len(set(targets)) or len(keys) != len(set(keys)):
            raise IntegrityConflict("unique")

    def commit(self) -> None:
        self.flush()
        for (kind, key), obj in self.repo.seen.items():
            if kind == "line":  # the history is append-only and kept apart, as in line_history
                for entry in obj.history:
                    if entry.id is None:
                        entry.id = len(self.store.history) + 1
                        self.store.history.append(copy.copy(entry))
            stored = copy.deepcopy(obj)
            if kind == "line":
                stored.history = []
            self.store.table(kind)[key] = stored
        self.store.outbox.extend(self.repo.messages)
        self.repo.messages = []
        self.batches.commit()
        self.store.audit.extend(self.audit_log.take()[0])
        self.store.commits += 1
        if self.repo.wrote_messages and self._on_messages is not None:
            self.repo.wrote_messages = False
            self._on_messages()

    def rollback(self) -> None:
        self.repo.seen.clear()
        self.repo.messages.clear()
        self.batches = InMemoryBatchStore(self.store, self.repo)
        self.audit_log.deferred.clear()

    def no_autoflush(self):
        return contextlib.nullcontext()  # nothing here flushes before commit


@dataclass
class FakeContainer:
    """What the request use cases ask of the container, with the in-memory unit of work."""
    pack: PolicyPack
    clock: Callable[[], datetime]
    store: Store = field(default_factory=Store)
    enqueued: list[str] = field(default_factory=list)
    keyring: object | None = None

    def uow(self, readonly: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def now(self) -> datetime:
        return self.clock()

    def enqueue_execution(self, request_id: str) -> None:
        self.enqueued.append(request_id)
