"""What escalations need from storage (service_layer/ports.py: EscalationStore), in SQL: the
escalations table and the execution leases the sweeper reads and parks (queries in durable.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import durable, orm


class SqlEscalationStore:
    def __init__(self, session: Session):
        self.s = session

    def add(self, *, request_id: str, reason: str, step: str | None, detail: str | None, expected_by: datetime,
            now: datetime) -> int:
        return durable.add_escalation(self.s, request_id=request_id, reason=reason, step=step, detail=detail,
                                      expected_by=expected_by, now=now)

    def resolve(self, request_id: str, now: datetime) -> None:
        durable.resolve_escalations(self.s, request_id, now)

    def open(self, limit: int = 500) -> list[dict]:
        return durable.open_escalations(self.s, limit)

    def overdue_request_ids(self, statuses: list[str], now: datetime, limit: int) -> list[str]:
        r = orm.requests.c
        return list(self.s.scalars(select(r.id).where(r.status.in_(statuses), r.deadline_at < now)
                                   .order_by(r.deadline_at).limit(limit)))

    # the execution leases ---------------------------------------------------------------------------
    def stalled_requests(self, now: datetime, queued_before: datetime, limit: int = 1000) -> list[str]:
        return durable.stalled_requests(self.s, now, queued_before, limit)

    def lease(self, request_id: str) -> dict | None:
        row = self.s.execute(select(orm.execution_leases).where(
            orm.execution_leases.c.request_id == request_id)).mappings().first()
        return None if row is None else dict(row)

    def park_lease(self, request_id: str, until: datetime, now: datetime, resumed: bool = False) -> int:
        return durable.park_lease(self.s, request_id, until, now, resumed=resumed)

    def drop_lease(self, request_id: str) -> None:
        durable.drop_lease(self.s, request_id)
