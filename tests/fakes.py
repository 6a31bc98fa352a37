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
import threading
from datetime import datetime, timedelta
from typing import Callable

from canceldesk.domain.errors import IntegrityConflict, PermanentError, StoreBusy
from canceldesk.domain.execution import StepRecord
from canceldesk.domain.lifecycle import OPEN, Request, Status
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


class InMemoryRunStore:
    """ports.RunStore over a Store (`uow.runs`), as adapters/engine_store.py behaves: the step
    records handed out are this transaction's copies, written back by `commit` together with the
    leases and the held rows; a unit of work left without committing forgets them all."""

    def __init__(self, uow: "InMemoryUnitOfWork"):
        self.uow = uow
        self.records: list[StepRecord] = []  # every record handed out or added in this transaction

    @property
    def leases(self) -> dict[str, dict]:
        return self.uow.leases

    # leases
    def claim_due(self, owner: str, now: datetime, seconds: int, limit: int) -> list[tuple[str, int]]:
        due = [r.id for r in self.uow.repo._all("request") if r.status == Status.EXECUTING
               and not (r.id in self.leases and self.leases[r.id]["lease_until"] > now)][:limit]
        out = []
        for rid in due:
            held = self.leases.get(rid)
            resumes = 0 if held is None else held["resumes"] + int(held["owner"] is not None)  # a run died
            self.leases[rid] = {"owner": owner, "lease_until": now + timedelta(seconds=seconds), "resumes": resumes,
                                "updated_at": now}
            out.append((rid, resumes))
        return out

    def claim_lease(self, request_id: str, owner: str, now: datetime, seconds: int) -> bool:
        held = self.leases.get(request_id)
        if held is not None and held["owner"] not in (None, owner) and held["lease_until"] > now:
            return False
        resumes = 0 if held is None else held["resumes"]
        self.leases[request_id] = {"owner": owner, "lease_until": now + timedelta(seconds=seconds),
                                   "resumes": resumes, "updated_at": now}
        return True

    def extend_leases(self, ids: list[str], owner: str, now: datetime, seconds: int) -> set[str]:
        out = set()
        for rid in ids:
            if rid in self.leases and self.leases[rid]["owner"] == owner:
                self.leases[rid].update(lease_until=now + timedelta(seconds=seconds), updated_at=now)
                out.add(rid)
        return out

    def park_lease(self, request_id: str, until: datetime, now: datetime) -> None:
        self.park_leases({request_id: until}, now)

    def park_leases(self, until_by_id: dict[str, datetime], now: datetime) -> None:
        for rid, until in until_by_id.items():
            held = self.leases.setdefault(rid, {"resumes": 0})
            held.update(owner=None, lease_until=until, updated_at=now)

    def drop_leases(self, ids: list[str]) -> None:
        for rid in ids:
            self.leases.pop(rid, None)

    def finish_runs(self, ids: list[str], now: datetime) -> None:
        for rid in ids:
            self.uow.escalations.resolve(rid, now)
        self.drop_leases(ids)

    # the group's rows
    def locked_request(self, request_id: str) -> Request | None:
        return self.locked_requests([request_id]).get(request_id)

    def locked_requests(self, ids: list[str]) -> dict[str, Request]:
        return self.uow.repo.locked_requests(ids)

    def steps_of_many(self, ids: list[str]) -> dict[str, dict[str, StepRecord]]:
        out = {i: copy.deepcopy(self.uow.store.steps.get(i, {})) for i in ids}
        for steps in out.values():
            self.records += steps.values()
        return out

    def add_step(self, rec: StepRecord) -> None:
        if rec.step in self.uow.store.steps.get(rec.request_id, {}):
            raise StoreBusy("execution_steps: the step was recorded by another run")
        self.records.append(rec)

    def subscriptions_of_many(self, msisdns: set[str]) -> dict[str, list[tuple[Subscription, Product]]]:
        return {m: self.uow.repo.subscriptions_with_products(m) for m in msisdns}

    def lines_of_many(self, msisdns: set[str]) -> dict[str, Line]:
        return self.uow.repo.lines_many(msisdns)

    def receipt_codes(self, request_ids: list[str]) -> dict[str, str]:
        return {i: r["verification_code"] for i in request_ids if (r := self.uow.repo.receipt(i)) is not None}

    def payment_keys(self, request_ids: list[str]) -> set[str]:
        keys = {f"{i}:refund" for i in request_ids}
        return {k for k in keys if self.uow.repo.payment(k) is not None}

    def hold_writes(self) -> None:
        pass  # the in-memory repository holds its rows until commit anyway

    def commit(self) -> None:
        self.uow.commit()

    def write(self) -> None:
        """Called by the unit of work's commit: the step records reach the store."""
        for rec in self.records:
            self.uow.store.steps.setdefault(rec.request_id, {})[str(rec.step)] = copy.deepcopy(rec)
        self.records = []


class InMemoryEscalationStore:
    """ports.EscalationStore over a Store: escalations added here reach `Store.escalations` on
    commit; the leases are the unit of work's copy (shared with `uow.runs`)."""

    def __init__(self, uow: "InMemoryUnitOfWork"):
        self.uow = uow
        self.added: list[dict] = []
        self.resolved: dict[str, datetime] = {}

    def _all(self) -> list[dict]:
        return [{**e, "resolved_at": e["resolved_at"] or self.resolved.get(e["request_id"])}
                for e in self.uow.store.escalations + self.added]

    def add(self, *, request_id, reason, step, detail, expected_by, now) -> int:
        level = 1 + sum(1 for e in self._all() if (e["request_id"], e["reason"]) == (request_id, reason))
        self.added.append({"request_id": request_id, "reason": reason, "level": level, "step": step, "detail": detail,
                           "expected_by": expected_by, "created_at": now, "resolved_at": None})
        return level

    def resolve(self, request_id: str, now: datetime) -> None:
        if any(e["request_id"] == request_id and e["resolved_at"] is None for e in self._all()):
            self.resolved[request_id] = now

    def open(self, limit: int = 500) -> list[dict]:
        latest: dict[str, dict] = {}
        for e in self._all():
            if e["resolved_at"] is None:
                latest[e["request_id"]] = e
        return list(latest.values())[:limit]

    def overdue_request_ids(self, statuses, now, limit) -> list[str]:
        return [r.id for r in self.uow.repo._all("request")
                if r.status in statuses and r.deadline_at is not None and r.deadline_at < now][:limit]

    def stalled_requests(self, now, queued_before, limit=1000) -> list[str]:
        out = []
        for r in self.uow.repo._all("request"):
            lease = self.uow.leases.get(r.id)
            if r.status == Status.EXECUTING and (lease["lease_until"] < now if lease else True):
                out.append(r.id)
        return out[:limit]

    def lease(self, request_id: str) -> dict | None:
        lease = self.uow.leases.get(request_id)
        return dict(lease) if lease else None

    def park_lease(self, request_id: str, until: datetime, now: datetime, resumed: bool = False) -> int:
        held = self.uow.leases.setdefault(request_id, {"resumes": 0})
        held.update(owner=None, lease_until=until, updated_at=now, resumes=held["resumes"] + int(resumed))
        return held["resumes"]

    def drop_lease(self, request_id: str) -> None:
        self.uow.leases.pop(request_id, None)

    def write(self) -> None:
        for e in self.uow.store.escalations:
            if e["resolved_at"] is None and e["request_id"] in self.resolved:
                e["resolved_at"] = self.resolved[e["request_id"]]
        self.uow.store.escalations += self.added
        self.added, self.resolved = [], {}


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
        self.leases = copy.deepcopy(self.store.leases)
        self.runs = InMemoryRunStore(self)
        self.escalations = InMemoryEscalationStore(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.repo.seen.clear()  # what was not committed is forgotten
        self.repo.messages.clear()
        self.repo.forget_held()
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
        self.store.receipts.update(self.repo.receipts)
        self.store.payments.update(self.repo.payments)
        self.store.ledger += self.repo.ledger
        self.repo.forget_held()
        self.runs.write()
        self.escalations.write()
        self.store.leases = copy.deepcopy(self.leases)
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
        self.repo.forget_held()
        self.leases = copy.deepcopy(self.store.leases)
        self.runs = InMemoryRunStore(self)
        self.escalations = InMemoryEscalationStore(self)

    def no_autoflush(self):
        return contextlib.nullcontext()  # nothing here flushes before commit


class FakeDownstream:
    """An outside system (adapters/downstream.py's Protocols) in memory: it acts once per key — a
    repeated key returns the first call's reference — and records every call made to it. `fail`
    maps an action to the exception its next calls raise (before acting)."""

    def __init__(self, system: str):
        self.system = system
        self.done: dict[str, dict] = {}   # key -> what the remote side did, once
        self.calls: list[tuple[str, str]] = []  # (action, key) of every call, repeats included
        self.fail: dict[str, Exception] = {}
        self._lock = threading.Lock()

    def _act(self, key: str, action: str, target: str, amount: int | None = None) -> str:
        with self._lock:
            self.calls.append((action, key))
            if action in self.fail:
                raise self.fail[action]
            if key not in self.done:
                self.done[key] = {"action": action, "target": target, "amount": amount,
                                  "reference": f"{self.system[:3].upper()}-{len(self.done) + 1:04d}"}
            return self.done[key]["reference"]

    def acted(self, action: str) -> list[dict]:
        return [d for d in self.done.values() if d["action"] == action]


class FakeProvisioning(FakeDownstream):
    def __init__(self):
        super().__init__("provisioning")

    def bar_line(self, msisdn: str, key: str) -> str:
        return self._act(key, "bar", msisdn)

    def restore_line(self, msisdn: str, key: str) -> str:
        return self._act(key, "restore", msisdn)


class FakePartners(FakeDownstream):
    def __init__(self):
        super().__init__("partners")

    def stop_service(self, subscription_id: str, product_code: str, key: str) -> str:
        return self._act(key, "stop", subscription_id)

    def stop_renewal(self, subscription_id: str, product_code: str, key: str) -> str:
        return self._act(key, "stop_renewal", subscription_id)


class FakePayments(FakeDownstream):
    def __init__(self):
        super().__init__("payments")

    def refund(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str:
        if amount <= 0:
            raise PermanentError("payments: refund amount must be positive")
        return self._act(key, "refund", msisdn, amount)

    def charge(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str:
        if amount <= 0:
            raise PermanentError("payments: charge amount must be positive")
        return self._act(key, "charge", msisdn, amount)


@dataclass
class FakeSettings:
    """The settings the saga reads (config.Settings' names)."""
    lease_seconds: int = 30
    retry_max_attempts: int = 3
    retry_base_seconds: float = 1.0
    queue_grace_seconds: int = 60
    operator_name: str = ""


@dataclass
class FakeContainer:
    """What the request use cases ask of the container, with the in-memory unit of work."""
    pack: PolicyPack
    clock: Callable[[], datetime]
    store: Store = field(default_factory=Store)
    enqueued: list[str] = field(default_factory=list)
    keyring: object | None = None
    settings: FakeSettings = field(default_factory=FakeSettings)
    provisioning: FakeProvisioning = field(default_factory=FakeProvisioning)
    partners: FakePartners = field(default_factory=FakePartners)
    payments: FakePayments = field(default_factory=FakePayments)
    deliveries_nudged: int = 0

    def uow(self, readonly: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def now(self) -> datetime:
        return self.clock()

    def enqueue_execution(self, request_id: str) -> None:
        self.enqueued.append(request_id)

    def enqueue_delivery(self) -> None:
        self.deliveries_nudged += 1
