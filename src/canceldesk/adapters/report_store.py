"""Read-only figures for the dashboard (service_layer/ports.py: ReportStore), in SQL: the service
layer (reports.py, analytics.py) counts, groups by day and computes percentiles from these rows."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canceldesk.domain.lifecycle import Status

from . import insights_store, orm

R = orm.requests.c


class SqlReportStore:
    def __init__(self, session: Session):
        self.s = session

    def request_counts(self, by: str, since: datetime) -> dict[str, int]:
        """Requests created since `since`, counted by one column ("kind" or "channel")."""
        col = {"kind": R.kind, "channel": R.channel}[by]
        return dict(self.s.execute(select(col, func.count()).where(R.created_at >= since).group_by(col)).all())

    def request_created_times(self, since: datetime) -> list[datetime]:
        return list(self.s.scalars(select(R.created_at).where(R.created_at >= since)))

    def completions(self, since: datetime) -> list[tuple[str, datetime, datetime]]:
        """(kind, created, completed) of requests completed since `since`."""
        return [tuple(r) for r in self.s.execute(select(R.kind, R.created_at, R.completed_at).where(
            R.status == Status.COMPLETED, R.completed_at >= since)).all()]

    def late_requests(self, since: datetime, now: datetime, open_statuses: list[str]) -> list[dict]:
        """Requests created since `since` that completed after their deadline or are open past it."""
        late_done = (R.status == Status.COMPLETED) & (R.completed_at > R.deadline_at)
        late_open = R.status.in_(open_statuses) & (R.deadline_at < now)
        return [dict(r) for r in self.s.execute(
            select(R.tracking_no, R.kind, R.status, R.channel, R.created_at, R.deadline_at, R.completed_at)
            .where(R.created_at >= since, R.deadline_at.is_not(None), late_done | late_open)).mappings().all()]

    def reasons_and_codes(self, since: datetime) -> list[tuple[str | None, list | None]]:
        return [tuple(r) for r in self.s.execute(select(R.reason, R.reject_codes).where(R.created_at >= since)).all()]

    def delivered_at(self, event: str, since: datetime) -> list[datetime]:
        """When the delivered messages of this event created since `since` were created."""
        o = orm.outbox.c
        return list(self.s.scalars(select(o.created_at).where(o.event == event, o.created_at >= since,
                                                              o.sent_at.is_not(None))))

    def renewals_charged_at(self, since: datetime) -> list[datetime]:
        rn = orm.renewals.c
        return list(self.s.scalars(select(rn.charged_at).where(rn.status == "charged", rn.charged_at >= since)))

    def audit_counts_by_actor(self, event: str, since: datetime) -> list[tuple[str, int, datetime | None]]:
        """(actor, how many, latest) of one audit event since `since`, most first."""
        a = orm.audit_log.c
        return [tuple(r) for r in self.s.execute(select(a.actor, func.count(), func.max(a.at))
                                                 .where(a.event == event, a.at >= since)
                                                 .group_by(a.actor).order_by(func.count().desc(), a.actor)).all()]

    # analytics ------------------------------------------------------------------------------------
    def requests_between(self, start: datetime, end: datetime) -> list[dict]:
        return insights_store.requests_between(self.s, start, end)

    def charged_renewals(self, start: datetime, end: datetime) -> list[dict]:
        return insights_store.charged_renewals(self.s, start, end)

    def messages_by_key(self, keys: list[str]) -> dict[str, dict]:
        return insights_store.reminders_by_key(self.s, keys)
