"""Repositories: the only place that queries. They never commit (only handlers do, via the UoW)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from canceldesk.domain.errors import IntegrityConflict
from canceldesk.domain.execution import StepRecord
from canceldesk.domain.lifecycle import OPEN, Request
from canceldesk.domain.model import LINES, Customer, Line, LineHistoryEntry, LineStatus, Product, Subscription

from . import audit_store, engine_statements, orm, prepared, request_rows, securitystore
from .bulk import among, among_values, insert_rows

# execution_steps' columns in StepRecord's field order (the step log is not mapped by the ORM)
STEP_FIELDS = ("request_id", "step", "status", "attempts", "started_at", "finished_at", "error", "result", "id")


def refused(exc: IntegrityError) -> IntegrityConflict:
    """The store's refusal as the domain names it: the driver's error class (never its message, which
    quotes the row) and, when a random tracking number was drawn twice, that key (the caller retries)."""
    orig = exc.orig
    name = getattr(getattr(orig, "diag", None), "constraint_name", None) or str(orig)  # SQLite: in the message
    return IntegrityConflict(type(orig).__name__, key="tracking_no" if "tracking_no" in name else None)


class Repository:
    def __init__(self, session: Session):
        self.s = session
        self.wrote_messages = False
        # Group commit (service_layer/engine.py): ledger, payment, receipt and outbox rows are held
        # here and written by one executemany per table right before COMMIT (`write_buffered`).
        self.buffered: dict[str, list[dict]] | None = None
        self.detached = None  # requests read with Core for a change (request_detached)

    def buffer_writes(self) -> None:
        self.buffered = {"ledger_entries": [], "payments": [], "receipts": [], "outbox": []}

    def _insert(self, table, rows: list[dict]) -> None:
        if self.buffered is not None:
            self.buffered[table.name].extend(rows)
        elif rows:
            self.s.execute(table.insert(), rows)

    def write_buffered(self) -> None:
        """One statement per table for everything held (outbox rows whose key exists are dropped)."""
        if not self.buffered:
            return
        held, self.buffered = self.buffered, None
        messages = list({m["dedup_key"]: m for m in held["outbox"]}.values())
        if messages:
            conn = self.s.connection()  # the statement built once (engine_statements)
            seen = set(conn.execute(engine_statements.outbox_keys(conn.dialect.name), {"keys": among_values(
                conn.dialect.name, [m["dedup_key"] for m in messages])}).scalars())
            held["outbox"] = [m for m in messages if m["dedup_key"] not in seen]
            self.wrote_messages = self.wrote_messages or bool(held["outbox"])
        for name in ("ledger_entries", "payments", "receipts", "outbox"):
            insert_rows(self.s, orm.metadata.tables[name], held[name])

    # customers -----------------------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer | None:
        return self.s.get(Customer, customer_id)

    def customers_by_digest(self, digest: str | list[str]) -> list[Customer]:
        """By keyed hash; a list (KeyRing.digests: one per configured key) keeps working mid-rotation."""
        digests = [digest] if isinstance(digest, str) else list(digest)
        return list(self.s.scalars(select(Customer).where(orm.customers.c.id_doc_digest.in_(digests))))

    def enterprises_administered_by(self, msisdn: str) -> list[str]:
        return list(self.s.scalars(select(orm.enterprise_admins.c.enterprise_id)
                                   .where(orm.enterprise_admins.c.msisdn == msisdn)))

    # lines -----------------------------------------------------------------------------------
    def line(self, msisdn: str, for_update: bool = False) -> Line | None:
        if for_update:
            return self.s.scalars(select(Line).where(orm.lines.c.msisdn == msisdn).with_for_update()).first()
        return self.s.get(Line, msisdn)

    def lines_of(self, customer_id: str) -> list[Line]:
        """The lines in service under this customer (closed ones: `lines_reclaimable_by`)."""
        return list(self.s.scalars(select(Line).where(
            orm.lines.c.customer_id == customer_id,
            orm.lines.c.status.not_in((LineStatus.FROZEN, LineStatus.RECYCLABLE))).order_by(orm.lines.c.msisdn)))

    def lines_reclaimable_by(self, customer_id: str) -> list[Line]:
        """Frozen numbers this customer closed and still holds (Line.held_by): not re-issued."""
        return list(self.s.scalars(select(Line).where(orm.lines.c.former_customer_id == customer_id,
                                                      orm.lines.c.customer_id == customer_id,
                                                      orm.lines.c.status == LineStatus.FROZEN)))

    def active_secondaries(self, primary: str) -> list[str]:
        return list(self.s.scalars(select(orm.lines.c.msisdn).where(
            orm.lines.c.primary_msisdn == primary, orm.lines.c.status == LineStatus.ACTIVE)))

    def line_history(self, msisdn: str, limit: int = 500) -> list[tuple[LineHistoryEntry, str | None, str | None]]:
        """The line's status changes, oldest first, each with its request's tracking number and customer."""
        h, rq = orm.line_history, orm.requests
        rows = self.s.execute(select(LineHistoryEntry, rq.c.tracking_no, rq.c.customer_id)
                              .outerjoin(rq, rq.c.id == h.c.request_id)
                              .where(h.c.msisdn == msisdn).order_by(h.c.at, h.c.id).limit(limit)).all()
        return [(entry, tracking_no, customer) for entry, tracking_no, customer in rows]

    def recycle_expired_freezes(self, now: datetime, reclaim_statuses: tuple[str, ...], actor: str = "system",
                                channel: str = "scheduler") -> list[str]:
        """Set-based `frozen → recyclable` for every number whose window ended — except one with a reclaim
        in `reclaim_statuses` — with one history row each, in the caller's transaction."""
        LINES.check(LineStatus.FROZEN, LineStatus.RECYCLABLE)
        t, rq = orm.lines, orm.requests
        blocked_by = select(rq.c.msisdn).where(rq.c.kind == "reclaim", rq.c.status.in_(reclaim_statuses))
        numbers = list(self.s.scalars(
            update(t).where(t.c.status == LineStatus.FROZEN, t.c.frozen_until <= now, t.c.msisdn.not_in(blocked_by))
            .values(status=LineStatus.RECYCLABLE, version=t.c.version + 1).returning(t.c.msisdn)))
        if numbers:
            self.s.execute(orm.line_history.insert(), [
                {"msisdn": n, "at": now, "from_status": str(LineStatus.FROZEN), "to_status": str(LineStatus.RECYCLABLE),
                 "actor": actor, "channel": channel, "request_id": None, "reason": "freeze window over"}
                for n in numbers])
        return numbers

    def freezes_ending(self, after: datetime, until: datetime) -> list[tuple[str, datetime, str | None]]:
        """(number, frozen_until, former owner) of the frozen numbers whose window ends in (after, until]."""
        t = orm.lines
        return [tuple(r) for r in self.s.execute(select(t.c.msisdn, t.c.frozen_until, t.c.former_customer_id).where(
            t.c.status == LineStatus.FROZEN, t.c.frozen_until > after, t.c.frozen_until <= until))]

    def admin_logins_on(self, msisdn: str) -> list[str]:
        """The enterprises this number is an admin login of, while that login has not ended."""
        return [eid for _, eid in securitystore.live_admin_logins(self.s, [msisdn])]

    def first_active_line_of(self, customer_id: str | None) -> str | None:
        t = orm.lines
        return self.s.execute(select(t.c.msisdn).where(t.c.customer_id == customer_id, t.c.status == LineStatus.ACTIVE)
                              .order_by(t.c.msisdn).limit(1)).scalar()

    # products and subscriptions -------------------------------------------------------------------
    def product(self, code: str) -> Product | None:
        return self.s.get(Product, code)

    def products(self, codes: set[str]) -> dict[str, Product]:
        if not codes:
            return {}
        return {p.code: p for p in self.s.scalars(select(Product).where(orm.products.c.code.in_(codes)))}

    def subscription(self, sub_id: str) -> Subscription | None:
        return self.s.get(Subscription, sub_id)

    def subscriptions_of(self, msisdn: str) -> list[Subscription]:
        return list(self.s.scalars(select(Subscription).where(orm.subscriptions.c.msisdn == msisdn)
                                   .order_by(orm.subscriptions.c.id)))

    def subscriptions_with_products(self, msisdn: str) -> list[tuple[Subscription, Product]]:
        return [(s, p) for s, p in self.s.execute(prepared.subscriptions_with_products(), {"msisdn": msisdn})]

    # requests ----------------------------------------------------------------------------------
    def add(self, obj) -> None:
        self.s.add(obj)

    def insert_request(self, req: Request) -> None:
        """A new request and its timeline, written now with Core (one INSERT, one executemany) and kept
        out of the session: the ORM's flush of the same five rows cost several times the statements.
        Its transitions go to the audit chain as a flush's would (audit_store.note_transitions). A
        unique key taken meanwhile (the open target, the idempotency key) raises IntegrityConflict."""
        conn = self.s.connection()
        row = {c.name: getattr(req, c.name) for c in orm.requests.c}
        entries = [{"request_id": req.id, "at": e.at, "from_status": e.from_status, "to_status": e.to_status,
                    "actor": e.actor, "channel": e.channel, "reason": e.reason} for e in req.timeline]
        try:
            conn.execute(prepared.request_insert(), row)
            if entries:
                conn.execute(prepared.request_events_insert(), entries)
        except IntegrityError as exc:
            raise refused(exc) from None
        for e in req.timeline:
            e.request_id = req.id
        audit_store.note_transitions(self.s, [(e, req) for e in req.timeline])

    def request_detached(self, tracking_no: str) -> Request | None:
        """The request and its timeline read with Core, outside the session (adapters/request_snapshots.py):
        what the caller changes is written when the unit of work flushes or commits."""
        if self.detached is None:
            from .request_snapshots import DetachedRequests
            self.detached = DetachedRequests(self.s)
        return self.detached.load(tracking_no)

    @property
    def snapshots(self):
        """Read-only copies of a line, its subscriptions and open requests, read with Core
        (adapters/request_snapshots.Snapshots): for pre-checks, which only look."""
        from .request_snapshots import Snapshots
        return Snapshots(self.s)

    def write_detached(self) -> None:
        if self.detached is not None:
            try:
                self.detached.write()
            except IntegrityError as exc:
                raise refused(exc) from None

    def request(self, tracking_no: str) -> Request | None:
        return self.s.scalars(prepared.request_by_tracking_no(), {"tracking_no": tracking_no}).first()

    def request_by_id(self, request_id: str) -> Request | None:
        return self.s.get(Request, request_id)

    def request_by_idempotency(self, requested_by: str, key: str) -> Request | None:
        params = {"requested_by": requested_by, "key": key}
        # nearly always a new key: a Core look-up says so for a fraction of an ORM query's cost
        if self.s.execute(prepared.request_id_by_idempotency(), params).first() is None:
            return None
        return self.s.scalars(prepared.request_by_idempotency(), params).first()

    def open_request_on(self, target: str) -> Request | None:
        return self.s.scalars(select(Request).where(orm.requests.c.open_target == target)).first()

    def open_requests_on_line(self, msisdn: str) -> list[Request]:
        # Read for their target (every pre-check, create and confirm asks "does an open request cover
        # this?"): their timelines load only if a caller reads them (lazyload), not with every check.
        return list(self.s.scalars(prepared.open_requests_on_line(), {"msisdn": msisdn}))

    def requests_of(self, customer_id: str, limit: int = 100) -> list[Request]:
        return list(self.s.scalars(select(Request).where(orm.requests.c.customer_id == customer_id)
                                   .order_by(orm.requests.c.created_at.desc()).limit(limit)))

    def requests_in_status(self, statuses: list[str], limit: int = 500) -> list[Request]:
        return list(self.s.scalars(select(Request).where(orm.requests.c.status.in_(statuses))
                                   .order_by(orm.requests.c.created_at).limit(limit)))

    # execution ---------------------------------------------------------------------------------
    def steps(self, request_id: str) -> dict[str, StepRecord]:
        """The step log of a request (read only here: the engine's store writes it, adapters/engine_store.py)."""
        t = orm.execution_steps
        rows = self.s.execute(select(*[t.c[f] for f in STEP_FIELDS]).where(t.c.request_id == request_id))
        return {r.step: StepRecord(*r) for r in rows}

    def locked_requests(self, ids: list[str]) -> dict[str, Request]:
        """Many requests at once, row-locked (PostgreSQL FOR UPDATE; SQLite holds the write lock),
        in id order so two groups never lock in opposite orders."""
        q = select(Request).where(orm.requests.c.id.in_(sorted(ids))).order_by(orm.requests.c.id).with_for_update()
        return {r.id: r for r in self.s.scalars(q)}

    def subscriptions_with_products_of_many(self, msisdns: set[str]) -> dict[str, list[tuple[Subscription, Product]]]:
        out: dict[str, list] = {m: [] for m in msisdns}
        if not msisdns:
            return out
        subs = list(self.s.scalars(select(Subscription).where(among(self.s, orm.subscriptions.c.msisdn, msisdns))
                                   .order_by(orm.subscriptions.c.id)))
        prods = self.products({s.product_code for s in subs})
        for s in subs:
            out[s.msisdn].append((s, prods[s.product_code]))
        return out

    # many lines at once (set-based intake of a large order) ----------------------------------------
    def lines_many(self, msisdns: set[str]) -> dict[str, Line]:
        return {ln.msisdn: ln for ln in self.s.scalars(select(Line).where(among(self.s, orm.lines.c.msisdn, msisdns)))}

    def lines_to_read(self, msisdns: set[str]) -> dict[str, Line]:
        """Many lines for reading only (the intake's pre-checks): Core, outside the session."""
        return request_rows.read_lines(self.s, msisdns)

    def unsaved_request_class(self) -> type[Request]:
        """The class of the requests made for `insert_requests` (no ORM instrumentation)."""
        return request_rows.unsaved_request_class()

    def insert_requests(self, reqs: list[Request]) -> None:
        """New requests with their timelines, written at once (COPY on PostgreSQL), never in the session:
        a unique key hit (a race for a target) is an IntegrityConflict, as at flush."""
        try:
            request_rows.insert_requests(self.s, reqs)
        except IntegrityError as exc:
            raise refused(exc) from None

    def open_requests_on_lines(self, msisdns: set[str]) -> dict[str, list[Request]]:
        out: dict[str, list[Request]] = {m: [] for m in msisdns}
        for r in self.s.scalars(select(Request).where(among(self.s, orm.requests.c.msisdn, msisdns),
                                                      orm.requests.c.status.in_([str(s) for s in OPEN]))):
            out[r.msisdn].append(r)
        return out

    def active_secondaries_of_many(self, primaries: set[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {m: [] for m in primaries}
        for msisdn, primary in self.s.execute(select(orm.lines.c.msisdn, orm.lines.c.primary_msisdn).where(
                among(self.s, orm.lines.c.primary_msisdn, primaries), orm.lines.c.status == LineStatus.ACTIVE)):
            out[primary].append(msisdn)
        return out

    def requests_by_idempotency_many(self, requested_by: str, keys: list[str]) -> dict[str, Request]:
        return {r.idempotency_key: r for r in self.s.scalars(select(Request).where(
            orm.requests.c.requested_by == requested_by, among(self.s, orm.requests.c.idempotency_key, keys)))}

    def receipt_codes(self, request_ids: list[str]) -> dict[str, str]:
        rows = self.s.execute(select(orm.receipts.c.request_id, orm.receipts.c.verification_code)
                              .where(among(self.s, orm.receipts.c.request_id, request_ids)))
        return {r.request_id: r.verification_code for r in rows}

    def payment_keys(self, request_ids: list[str]) -> set[str]:
        return set(self.s.scalars(select(orm.payments.c.idempotency_key).where(among(self.s, orm.payments.c.request_id, request_ids))))

    def add_ledger(self, request_id: str, settlement_name: str, entries, currency: str, at: datetime) -> None:
        if entries:
            self._insert(orm.ledger_entries, [
                {"request_id": request_id, "settlement": settlement_name, "account": e.account, "amount": e.amount,
                 "currency": currency, "memo": e.memo, "at": at} for e in entries])

    def ledger_of(self, request_id: str) -> list[dict]:
        rows = self.s.execute(select(orm.ledger_entries).where(orm.ledger_entries.c.request_id == request_id)
                              .order_by(orm.ledger_entries.c.id)).mappings()
        return [dict(r) for r in rows]

    def payment(self, key: str) -> dict | None:
        row = self.s.execute(select(orm.payments).where(orm.payments.c.idempotency_key == key)).mappings().first()
        return dict(row) if row else None

    def add_payment(self, **values) -> None:
        self._insert(orm.payments, [values])

    def receipt(self, request_id: str) -> dict | None:
        row = self.s.execute(select(orm.receipts).where(orm.receipts.c.request_id == request_id)).mappings().first()
        return dict(row) if row else None

    def receipt_by_code(self, code: str) -> dict | None:
        row = self.s.execute(select(orm.receipts).where(orm.receipts.c.verification_code == code)).mappings().first()
        return dict(row) if row else None

    def add_receipt(self, **values) -> None:
        self._insert(orm.receipts, [values])

    # outbox --------------------------------------------------------------------------------------
    def add_message(self, *, dedup_key: str, channel: str, to: str, event: str, ref: str | None, text: str,
                    at: datetime) -> None:
        if self.buffered is not None:
            self.buffered["outbox"].append(dict(dedup_key=dedup_key, channel=channel, to=to, event=event, ref=ref,
                                                text=text, created_at=at))
            return
        written = self.s.execute(prepared.outbox_insert_new(self.s.get_bind().dialect.name),
                                 {"dedup_key": dedup_key, "channel": channel, "to": to, "event": event, "ref": ref,
                                  "text": text, "created_at": at}).rowcount
        if written:
            self.wrote_messages = True

    def messages(self, to: str | None = None, limit: int = 1000) -> list[dict]:
        q = select(orm.outbox).order_by(orm.outbox.c.id)
        if to:
            q = q.where(orm.outbox.c.to == to)
        return [dict(r) for r in self.s.execute(q.limit(limit)).mappings()]

    @property
    def channels(self):
        """The SMS/IVR channels' own tables (inbound ids, conversations)."""
        from .channel_store import ChannelStore
        return ChannelStore(self.s)

    def count(self, table) -> int:
        return self.s.execute(select(func.count()).select_from(table)).scalar_one()
