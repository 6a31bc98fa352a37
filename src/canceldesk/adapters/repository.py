"""Repositories: the only place that queries. They never commit (only handlers do, via the UoW)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canceldesk.domain.execution import StepRecord
from canceldesk.domain.lifecycle import OPEN, Request
from canceldesk.domain.model import Customer, Line, LineStatus, Product, Subscription

from . import orm


class Repository:
    def __init__(self, session: Session):
        self.s = session
        self.wrote_messages = False

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
        subs = self.subscriptions_of(msisdn)
        prods = self.products({s.product_code for s in subs})
        return [(s, prods[s.product_code]) for s in subs]

    # requests ----------------------------------------------------------------------------------
    def add(self, obj) -> None:
        self.s.add(obj)

    def request(self, tracking_no: str) -> Request | None:
        return self.s.scalars(select(Request).where(orm.requests.c.tracking_no == tracking_no)).first()

    def request_by_id(self, request_id: str) -> Request | None:
        return self.s.get(Request, request_id)

    def request_by_idempotency(self, requested_by: str, key: str) -> Request | None:
        return self.s.scalars(select(Request).where(orm.requests.c.requested_by == requested_by,
                                                    orm.requests.c.idempotency_key == key)).first()

    def open_request_on(self, target: str) -> Request | None:
        return self.s.scalars(select(Request).where(orm.requests.c.open_target == target)).first()

    def open_requests_on_line(self, msisdn: str) -> list[Request]:
        return list(self.s.scalars(select(Request).where(orm.requests.c.msisdn == msisdn,
                                                         orm.requests.c.status.in_([str(s) for s in OPEN]))))

    def requests_of(self, customer_id: str, limit: int = 100) -> list[Request]:
        return list(self.s.scalars(select(Request).where(orm.requests.c.customer_id == customer_id)
                                   .order_by(orm.requests.c.created_at.desc()).limit(limit)))

    def requests_in_status(self, statuses: list[str], limit: int = 500) -> list[Request]:
        return list(self.s.scalars(select(Request).where(orm.requests.c.status.in_(statuses))
                                   .order_by(orm.requests.c.created_at).limit(limit)))

    # execution ---------------------------------------------------------------------------------
    def steps(self, request_id: str) -> dict[str, StepRecord]:
        rows = self.s.scalars(select(StepRecord).where(orm.execution_steps.c.request_id == request_id))
        return {r.step: r for r in rows}

    def add_ledger(self, request_id: str, settlement_name: str, entries, currency: str, at: datetime) -> None:
        if entries:
            self.s.execute(orm.ledger_entries.insert(), [
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
        self.s.execute(orm.payments.insert().values(**values))

    def receipt(self, request_id: str) -> dict | None:
        row = self.s.execute(select(orm.receipts).where(orm.receipts.c.request_id == request_id)).mappings().first()
        return dict(row) if row else None

    def receipt_by_code(self, code: str) -> dict | None:
        row = self.s.execute(select(orm.receipts).where(orm.receipts.c.verification_code == code)).mappings().first()
        return dict(row) if row else None

    def add_receipt(self, **values) -> None:
        self.s.execute(orm.receipts.insert().values(**values))

    # outbox --------------------------------------------------------------------------------------
    def add_message(self, *, dedup_key: str, channel: str, to: str, event: str, ref: str | None, text: str,
                    at: datetime) -> None:
        exists = self.s.execute(select(orm.outbox.c.id).where(orm.outbox.c.dedup_key == dedup_key)).first()
        if exists is None:
            self.s.execute(orm.outbox.insert().values(dedup_key=dedup_key, channel=channel, to=to, event=event,
                                                      ref=ref, text=text, created_at=at))
            self.wrote_messages = True

    def messages(self, to: str | None = None, limit: int = 1000) -> list[dict]:
        q = select(orm.outbox).order_by(orm.outbox.c.id)
        if to:
            q = q.where(orm.outbox.c.to == to)
        return [dict(r) for r in self.s.execute(q.limit(limit)).mappings()]

    def count(self, table) -> int:
        return self.s.execute(select(func.count()).select_from(table)).scalar_one()
