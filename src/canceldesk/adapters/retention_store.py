"""The retention duty's storage (service_layer/ports.py: RetentionStore), in SQL: who is due for
anonymising, and the statements that forget a customer's personal data (each returns its count)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from canceldesk.domain.model import Customer

from . import orm


class SqlRetentionStore:
    def __init__(self, session: Session):
        self.s = session

    def customers_ended_before(self, ended_statuses: list[str], cutoff: datetime,
                               limit: int) -> list[tuple[str, datetime]]:
        """(customer id, when their last line ended) of customers not yet anonymised whose every line
        is in `ended_statuses`, the last one ended at or before `cutoff`."""
        lines, customers = orm.lines, orm.customers
        still_served = func.sum(case((lines.c.status.in_(ended_statuses), 0), else_=1))
        q = (select(lines.c.customer_id, func.max(lines.c.closed_at))
             .join(customers, customers.c.id == lines.c.customer_id)
             .where(customers.c.anonymised_at.is_(None))
             .group_by(lines.c.customer_id)
             .having(still_served == 0, func.max(lines.c.closed_at) <= cutoff)
             .order_by(lines.c.customer_id).limit(limit))
        return [(cid, ended) for cid, ended in self.s.execute(q).all()]

    def has_open_request(self, customer_id: str) -> bool:
        r = orm.requests.c
        return self.s.execute(select(r.id).where(r.customer_id == customer_id, r.open_target.is_not(None))
                              .limit(1)).first() is not None

    def customer_for_update(self, customer_id: str) -> Customer | None:
        return self.s.get(Customer, customer_id, with_for_update=True)

    def numbers_of(self, customer_id: str) -> list[str]:
        return list(self.s.scalars(select(orm.lines.c.msisdn).where(orm.lines.c.customer_id == customer_id)))

    def clear_request_reasons(self, customer_id: str) -> int:
        r = orm.requests
        return self.s.execute(update(r).where(r.c.customer_id == customer_id, r.c.reason.is_not(None))
                              .values(reason=None)).rowcount

    def delete_codes(self, numbers: list[str]) -> int:
        if not numbers:
            return 0
        return self.s.execute(delete(orm.otp_codes).where(orm.otp_codes.c.msisdn.in_(numbers))).rowcount

    def delete_sessions(self, principal_id: str) -> int:
        return self.s.execute(delete(orm.sessions).where(orm.sessions.c.principal_id == principal_id)).rowcount

    def redact_sent_messages(self, numbers: list[str], text: str) -> int:
        if not numbers:
            return 0
        o = orm.outbox
        return self.s.execute(update(o).where(o.c.to.in_(numbers), o.c.sent_at.is_not(None))
                              .values(text=text)).rowcount
