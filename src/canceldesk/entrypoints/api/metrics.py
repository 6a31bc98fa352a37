"""Prometheus metrics: HTTP traffic, and request counts by status read from the database."""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select

from canceldesk.adapters import orm

REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter("canceldesk_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("canceldesk_http_request_seconds", "HTTP request latency", ["route"], registry=REGISTRY)
REQUESTS_BY_STATUS = Gauge("canceldesk_requests", "Termination requests by kind and status", ["kind", "status"], registry=REGISTRY)
OUTBOX_PENDING = Gauge("canceldesk_outbox_pending", "Notifications not yet delivered", registry=REGISTRY)
_last_refresh = [0.0]


def refresh_gauges(c) -> None:
    if time.monotonic() - _last_refresh[0] < 2:
        return
    _last_refresh[0] = time.monotonic()
    with c.engine.connect() as conn:
        rows = conn.execute(select(orm.requests.c.kind, orm.requests.c.status, func.count())
                            .group_by(orm.requests.c.kind, orm.requests.c.status)).all()
        pending = conn.execute(select(func.count()).select_from(orm.outbox).where(orm.outbox.c.sent_at.is_(None))).scalar_one()
    REQUESTS_BY_STATUS.clear()
    for kind, status, n in rows:
        REQUESTS_BY_STATUS.labels(kind, status).set(n)
    OUTBOX_PENDING.set(pending)
