"""Scheduled duties' claims in SQL (service_layer/ports.py: DutyStore; queries in durable.py)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from canceldesk.domain.errors import IntegrityConflict

from . import durable


class SqlDutyStore:
    def __init__(self, session: Session):
        self.s = session

    def claim(self, name: str, now: datetime, every: timedelta) -> bool:
        return durable.claim_duty(self.s, name, now, every)

    def finish(self, name: str, now: datetime, outcome: dict) -> None:
        try:
            durable.finish_duty(self.s, name, now, outcome)
        except IntegrityError as exc:
            raise IntegrityConflict(type(exc.orig).__name__) from None
