"""Complaints and appeals in SQL (service_layer/ports.py: ComplaintStore); each row read comes with
its request's tracking number and status."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import orm, securitystore

C, R = orm.complaints, orm.requests


class SqlComplaintStore:
    def __init__(self, session: Session):
        self.s = session

    def add(self, **values) -> None:
        self.s.execute(C.insert().values(**values))

    def _rows(self, where: list, limit: int) -> list[dict]:
        q = (select(C, R.c.tracking_no, R.c.status.label("request_status"))
             .join(R, R.c.id == C.c.request_id).where(*where).order_by(C.c.created_at).limit(limit))
        return [dict(r) for r in self.s.execute(q).mappings()]

    def of_request(self, request_id: str, limit: int = 200) -> list[dict]:
        return self._rows([C.c.request_id == request_id], limit)

    def open(self, at_store: str | None, limit: int = 200) -> list[dict]:
        where = [C.c.status == "open"]
        if at_store is not None:
            where.append(securitystore.requested_at_store(at_store))
        return self._rows(where, limit)

    def state(self, reference: str) -> tuple[str, str] | None:
        """(complaint status, who took the request) or None."""
        row = self.s.execute(select(C.c.status, R.c.requested_by).join(R, R.c.id == C.c.request_id)
                             .where(C.c.reference == reference)).first()
        return None if row is None else (row.status, row.requested_by)

    def resolve(self, reference: str, *, at: datetime, by: str, resolution: str) -> None:
        self.s.execute(update(C).where(C.c.reference == reference).values(
            status="resolved", resolved_at=at, resolved_by=by, resolution=resolution))
