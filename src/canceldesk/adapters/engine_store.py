"""The engine's storage (service_layer/ports.py: RunStore, DeliveryStore), in SQL.

`RunStore` is what the executor and the engine read and write in one transaction: leases, the
requests of a group (row-locked), their step logs, the rows a group loads once, and the commit.
Step records are read and written with plain Core statements, not the ORM's unit of work: a group
loads them with one SELECT, the executor moves them through their named transitions
(domain/execution.py: StepRecord), and right before COMMIT the new ones are inserted with one
executemany and the changed ones updated with another. The ledger, payment, receipt and outbox rows
of a group are held by the repository and written the same way (Repository.write_buffered).
The group's requests, subscriptions and products are read with Core too and never enter the
session (`_Rows`): the domain's transitions change them as usual, and `commit` updates the
columns they changed, inserts their new timeline entries and hands those to the audit chain — no
identity map, no loading of whole timelines, no per-object flush on the engine's hot path.
Everything still commits in the one transaction, so the step log's promise is unchanged.

Every method turns the database's "not now" — a conflicting run (unique key, stale row) or a
locked database — into `domain.errors.StoreBusy`: the transaction rolled back, nothing half-done,
retry shortly. The service layer never sees a SQLAlchemy exception.
"""
from __future__ import annotations

import functools
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from canceldesk.domain.errors import StoreBusy
from canceldesk.domain.execution import StepRecord
from canceldesk.domain.lifecycle import Request
from canceldesk.domain.model import Product, Subscription

from . import audit_store, durable, line_history, orm
from . import engine_statements as stmts
from .bulk import among_values, insert_rows, update_rows
from .request_rows import LineRows, unmapped

_TROUBLE = (IntegrityError, StaleDataError, OperationalError)
T, RQ, SUB, PROD = orm.execution_steps, orm.requests, orm.subscriptions, orm.products
_FIELDS = stmts.STEP_FIELDS
# what a run that does not hold an executing request's lease may write on it: the sweeper's promised
# time (escalations.escalate_overdue); a transition's columns once a lapsed lease was taken over
_FINGERPRINT = stmts.FINGERPRINT


def _busy(fn):
    @functools.wraps(fn)
    def wrapped(*a, **kw):
        try:
            return fn(*a, **kw)
        except _TROUBLE as exc:
            raise StoreBusy(type(exc).__name__) from exc
    return wrapped


_plain = unmapped  # a mapped domain class without the ORM's instrumentation (request_rows.unmapped)


class _Rows:
    """Domain objects of mapped classes read with Core and kept out of the session: no identity map,
    no flush, and no instrumentation (`_plain`): reading and setting their attributes is as cheap
    as on any object. Each tracked object keeps the row it was read from; `write` updates exactly
    those columns whose value now differs from it (a JSON value changed in place included), one
    statement per table and set of changed columns (bulk.update_rows)."""

    def __init__(self):
        self.objects: list[tuple[object, object, tuple, tuple]] = []  # (object, table, columns, values as read)

    def load(self, cls, table, result, track: bool = True) -> list:
        plain, keys, out = _plain(cls), tuple(result.keys()), []
        make = object.__new__
        rows = result.all()
        for row in rows:
            obj = make(plain)  # as the ORM makes a loaded object: no __init__
            obj.__dict__.update(zip(keys, row))
            out.append(obj)
        if track:
            self.objects += [(obj, table, keys, tuple(row)) for obj, row in zip(out, rows)]
        return out

    def adopt(self, table, objects) -> None:
        """Objects this process wrote in an earlier transaction and that are unchanged since: tracked
        as if read now."""
        keys = tuple(table.columns.keys())
        self.objects += [(obj, table, keys, tuple(map(obj.__dict__.get, keys))) for obj in objects]

    def loaded(self, cls) -> list:
        return [obj for obj, *_ in self.objects if isinstance(obj, cls)]

    def write(self, s) -> None:
        batches: dict[tuple, list[dict]] = {}
        tracked = []
        for obj, table, keys, before in self.objects:
            d = obj.__dict__
            now = tuple(map(d.get, keys))
            tracked.append((obj, table, keys, now))
            if now == before:  # element-wise `is` first, then ==
                continue
            changed = tuple(sorted(k for k, v, v0 in zip(keys, now, before) if v is not v0 and v != v0))
            if changed:
                key = table.primary_key.columns.values()[0].name
                batches.setdefault((table, key, changed), []).append({key: d[key], **{k: d[k] for k in changed}})
        self.objects = tracked
        for (table, key, changed), params in batches.items():
            update_rows(s.connection(), table, (key,), params)


class SqlRunStore:
    """Created lazily by SqlUnitOfWork (`uow.runs`); lives as long as its transaction."""

    def __init__(self, uow):
        self.uow = uow
        self.s = uow.session
        self._loaded: dict[tuple[str, str], tuple] = {}   # (request, step) -> the values as read
        self._steps: list[StepRecord] = []                 # every record handed out or added
        self._rows = _Rows()                               # requests and subscriptions read with Core
        self._lines = LineRows()                           # the lines of line-closing requests, Core too
        self._kept_lines: dict[str, object] = {}           # lines adopted from the group's last round
        self._products: dict[str, Product] = {}

    def _run(self, statement, keys):
        """A statement of engine_statements, built once per dialect, run for `keys` on the transaction's
        connection (Core: nothing for the session to flush or track)."""
        conn = self.s.connection()
        dialect = conn.dialect.name
        return conn.execute(statement(dialect), {"keys": among_values(dialect, keys)})

    # leases ---------------------------------------------------------------------------------
    @_busy
    def claim_due(self, owner: str, now: datetime, seconds: int, limit: int) -> list[tuple[str, int]]:
        return durable.claim_due(self.s, owner, now, seconds, limit)

    @_busy
    def claim_lease(self, request_id: str, owner: str, now: datetime, seconds: int) -> bool:
        return durable.claim_lease(self.s, request_id, owner, now, seconds)

    @_busy
    def extend_leases(self, ids: list[str], owner: str, now: datetime, seconds: int) -> set[str]:
        return durable.extend_leases(self.s, ids, owner, now, seconds)

    @_busy
    def park_lease(self, request_id: str, until: datetime, now: datetime) -> None:
        durable.park_lease(self.s, request_id, until, now)

    @_busy
    def park_leases(self, until_by_id: dict[str, datetime], now: datetime) -> None:
        durable.park_leases(self.s, until_by_id, now)

    @_busy
    def drop_leases(self, ids: list[str]) -> None:
        durable.drop_leases(self.s, ids)

    @_busy
    def finish_runs(self, ids: list[str], now: datetime) -> None:
        """Completed requests: escalations resolved, leases gone (one statement each for all)."""
        durable.finish_runs(self.s, ids, now)

    # the group's rows -----------------------------------------------------------------------
    @_busy
    def locked_requests(self, ids: list[str]) -> dict[str, Request]:
        """Row-locked (PostgreSQL FOR UPDATE; SQLite holds the write lock), in id order so two groups
        never lock in opposite orders. Read with Core, outside the session (`_Rows`): their changes
        and new timeline entries are written by `commit`; `timeline` holds this transaction's entries only."""
        if not ids:
            return {}
        out = {}
        for req in self._rows.load(Request, RQ, self._run(stmts.locked_requests, sorted(ids))):
            req.__dict__["timeline"] = []
            out[req.id] = req
        line_history.executing(self.s, out.values())
        return out

    @_busy
    def relock_requests(self, kept: dict[str, Request]) -> dict[str, Request]:
        """Requests the group's last round committed (this owner has held their leases since): locked
        again in id order by a narrow SELECT … FOR UPDATE of the columns another run may write on an
        executing request (_FINGERPRINT). Those unchanged are tracked as if read now, without reading,
        decoding and building them again; the others are not returned (read them with `locked_requests`)."""
        if not kept:
            return {}
        out = {}
        for row in self._run(stmts.relock_requests, sorted(kept)):
            req = kept[row[0]]
            if tuple(row[1:]) == tuple(map(req.__dict__.get, _FINGERPRINT)):
                req.__dict__["timeline"] = []
                out[req.id] = req
        self._rows.adopt(RQ, out.values())
        line_history.executing(self.s, out.values())
        return out

    @_busy
    def locked_request(self, request_id: str) -> Request | None:
        return self.locked_requests([request_id]).get(request_id)

    @_busy
    def steps_of_many(self, ids: list[str]) -> dict[str, dict[str, StepRecord]]:
        """The step logs of `ids`, read with one SELECT; written back by `commit`."""
        out: dict[str, dict[str, StepRecord]] = {i: {} for i in ids}
        if not ids:
            return out
        for r in self._run(stmts.steps_of, ids):
            rec = StepRecord(*r)
            self._loaded[(r[0], r[1])] = tuple(r[2:])
            self._steps.append(rec)
            out[r[0]][r[1]] = rec
        return out

    def adopt_steps(self, records: list[StepRecord]) -> None:
        """Records this process committed in an earlier transaction and that no other run can have
        written since (the engine holds their leases): tracked as if read now, written back by `commit`
        only where they change."""
        for rec in records:
            self._loaded[(rec.request_id, str(rec.step))] = (rec.status, rec.attempts, rec.started_at,
                                                               rec.finished_at, rec.error, rec.result)
            self._steps.append(rec)

    def add_step(self, rec: StepRecord) -> None:
        """A new step record: inserted at commit."""
        self._steps.append(rec)

    @_busy
    def subscriptions_of_many(self, msisdns: set[str]) -> dict[str, list[tuple[Subscription, Product]]]:
        """The lines' subscriptions with their products (two SELECTs, Core, outside the session like the
        requests): a subscription's changes are written by `commit`."""
        out: dict[str, list] = {m: [] for m in msisdns}
        if not msisdns:
            return out
        subs = self._rows.load(Subscription, SUB, self._run(stmts.subscriptions_of, msisdns))
        missing = {s.product_code for s in subs} - self._products.keys()
        if missing:
            for p in self._rows.load(Product, PROD, self._run(stmts.products, missing), track=False):
                self._products[p.code] = p
        for sub in subs:
            out[sub.msisdn].append((sub, self._products[sub.product_code]))
        return out

    @_busy
    def lines_of_many(self, msisdns: set[str]) -> dict:
        """The group's lines (one SELECT, Core, outside the session; adopted ones are not read again):
        their changed columns and new history entries are written by `commit`, with the lines' version
        check (adapters/request_rows.py), so a line changed since it was read is "not now"."""
        kept = [self._kept_lines[m] for m in msisdns if m in self._kept_lines]
        out = self._lines.load(self.s, [m for m in msisdns if m not in self._kept_lines])
        self._lines.adopt(kept)
        out.update((ln.msisdn, ln) for ln in kept)
        return out

    def adopt_lines(self, lines) -> None:
        """Lines the group's last round read and wrote (written with their version: a line changed since
        makes the write "not now"): `lines_of_many` hands them out instead of reading them again."""
        self._kept_lines.update((ln.msisdn, ln) for ln in lines)

    @_busy
    def receipt_codes(self, request_ids: list[str]) -> dict[str, str]:
        return dict(self._run(stmts.receipt_codes, request_ids).all()) if request_ids else {}

    @_busy
    def payment_keys(self, request_ids: list[str]) -> set[str]:
        return set(self._run(stmts.payment_keys, request_ids).scalars()) if request_ids else set()

    def hold_writes(self) -> None:
        """Ledger, payment, receipt and outbox rows are held and written at commit, one executemany each."""
        self.uow.repo.buffer_writes()

    # the commit -----------------------------------------------------------------------------
    def _write_steps(self) -> None:
        new, changed = [], []
        for rec in self._steps:
            values = (rec.status, rec.attempts, rec.started_at, rec.finished_at, rec.error, rec.result)
            key = (rec.request_id, str(rec.step))
            before = self._loaded.get(key)
            if before is None:
                new.append({"request_id": key[0], "step": key[1], **dict(zip(_FIELDS, values))})
            elif values != before:
                changed.append({"request_id": key[0], "step": key[1], **dict(zip(_FIELDS, values))})
            else:
                continue
            self._loaded[key] = values
        insert_rows(self.s, T, new)
        update_rows(self.s.connection(), T, ("request_id", "step"), changed)

    def _write_requests(self) -> None:
        """The new timeline entries (one executemany), handed to the audit chain as the ORM's would be."""
        entries, pairs = [], []
        for req in self._rows.loaded(Request):
            for e in req.__dict__.get("timeline", ()):
                e.request_id = req.id
                entries.append({"request_id": req.id, "at": e.at, "from_status": e.from_status,
                                "to_status": e.to_status, "actor": e.actor, "channel": e.channel, "reason": e.reason})
                pairs.append((e, req))
            req.__dict__["timeline"] = []
        if entries:
            insert_rows(self.s, orm.request_events, entries)
            audit_store.note_transitions(self.s, pairs)

    @_busy
    def commit(self) -> None:
        """Write the step records, the changed requests, subscriptions and timeline entries, and the
        held rows, then commit (the unit of work's hooks run)."""
        self._write_steps()
        self._rows.write(self.s)
        self._lines.write(self.s)
        self._write_requests()
        self.uow.repo.write_buffered()
        self.uow.commit()
        self._steps = []
        self._loaded = {}
        self._rows = _Rows()
        self._lines = LineRows()
        self._kept_lines = {}


class SqlDeliveryStore:
    """The outbox claim and marks of the deliverer (`uow.deliveries`); bookkeeping commits relaxed."""

    def __init__(self, uow):
        self.s = uow.session

    def claim(self, now: datetime, hold: timedelta, limit: int, events: tuple[str, ...] | None = None,
              exclude: tuple[str, ...] = ()) -> list:
        return durable.claim_messages(self.s, now, hold, limit, events=events, exclude=exclude)

    def mark_sent(self, ids: list[int], now: datetime) -> None:
        durable.mark_sent(self.s, ids, now)

    def release(self, ids: list[int]) -> None:
        durable.release_messages(self.s, ids)

    def mark_failed(self, message_id: int, retry_at: datetime, error: str) -> None:
        durable.mark_failed(self.s, message_id, retry_at, error)

    def mark_failed_many(self, failures: list[tuple[int, datetime, str]]) -> None:
        durable.mark_failed_many(self.s, failures)

    def next_pending_at(self) -> datetime | None:
        return durable.next_pending_at(self.s)

    def has_unclaimed(self) -> bool:
        return durable.has_unclaimed_messages(self.s)
