"""In-memory batch, audit, account, run and escalation stores (the ports beside the repository)."""
from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from canceldesk.domain.errors import StoreBusy
from canceldesk.domain.execution import StepRecord
from canceldesk.domain.lifecycle import Request, Status
from canceldesk.domain.model import Line, LineStatus, Product, Subscription

from .store import InMemoryRepository, Store

if TYPE_CHECKING:
    from .uow import InMemoryUnitOfWork

# what a run that does not hold an executing request's lease may write on it (as adapters/engine_store.py)
FINGERPRINT = ("status", "updated_at", "deadline_at", "completed_at", "failure", "open_target")




def _line_fields(line: Line) -> dict:
    """A line's values but its history (by the dataclass's fields: once the ORM has mapped Line, an
    instance's __dict__ also holds its instrumentation state)."""
    return {f.name: getattr(line, f.name) for f in dataclasses.fields(Line) if f.name != "history"}


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

    def relock_requests(self, kept: dict[str, Request]) -> dict[str, Request]:
        """The group's last round's requests, adopted (handed out again, not read) where the store's
        committed row still has what that round committed in the columns another run may write;
        the others are left out, for `locked_requests` to read whole."""
        out = {}
        for rid in sorted(kept):
            stored, req = self.uow.store.table("request").get(rid), kept[rid]
            if stored is not None and all(getattr(stored, f) == getattr(req, f) for f in FINGERPRINT):
                self.uow.repo.seen[("request", rid)] = req
                out[rid] = req
        return out

    def adopt_steps(self, records: list[StepRecord]) -> None:
        """Records the group's last round committed (this owner's leases kept anyone else off them)."""
        self.records += records

    def adopt_lines(self, lines: list[Line]) -> None:
        """Lines the group's last round wrote, handed out again by `lines_of_many`; as the SQL store's
        version check at commit, a line changed since makes the round "not now"."""
        for ln in lines:
            stored = self.uow.store.lines.get(ln.msisdn)
            if stored is None or _line_fields(stored) != _line_fields(ln):
                raise StoreBusy(f"lines: {ln.msisdn} changed since the group's last round")
            self.uow.repo.seen[("line", ln.msisdn)] = ln

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
