"""Scheduled duty: personal data is kept only as long as the pack's retention rules require.

A customer whose every line has ended (frozen or recyclable) for longer than the pack's real-name
retention (CN: 2 years, `retention_days.real_name`) is anonymised: name and ID document replaced
(the ID digest too, so the person can no longer be found by their ID), enterprise admin names,
free-text request reasons, one-time codes, sessions and the texts of messages sent to their
numbers removed. Requests, receipts and ledgers stay (accounting records) but point only at the
pseudonymous customer id. Each purge writes an audit record naming what was purged — never the
data itself.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from sqlalchemy import case, delete, func, select, update

from canceldesk.adapters import orm
from canceldesk.domain.model import Customer, LineStatus

from . import audit

log = logging.getLogger("canceldesk.retention")
ENDED = (LineStatus.FROZEN, LineStatus.RECYCLABLE)
ANONYMISED_NAME = "已匿名"


def due_for_purge(c, now, limit: int = 500) -> list[tuple[str, object]]:
    days = c.pack.retention_days.get("real_name")
    if not days:
        return []
    cutoff = now - timedelta(days=days)
    lines, customers = orm.lines, orm.customers
    still_served = func.sum(case((lines.c.status.in_([str(s) for s in ENDED]), 0), else_=1))
    q = (select(lines.c.customer_id, func.max(lines.c.closed_at))
         .join(customers, customers.c.id == lines.c.customer_id)
         .where(customers.c.anonymised_at.is_(None))
         .group_by(lines.c.customer_id)
         .having(still_served == 0, func.max(lines.c.closed_at) <= cutoff)
         .order_by(lines.c.customer_id).limit(limit))
    with c.uow() as uow:
        return [(cid, ended) for cid, ended in uow.session.execute(q).all()]


def purge(c, now) -> dict:
    purged = 0
    for customer_id, ended_at in due_for_purge(c, now):
        with c.uow() as uow:
            if _anonymise(c, uow, customer_id, ended_at, now):
                uow.commit()
                purged += 1
    if purged:
        log.info("retention purge: %d customer(s) anonymised", purged)
    return {"anonymised": purged}


def _anonymise(c, uow, customer_id: str, ended_at, now) -> bool:
    s = uow.session
    open_requests = s.execute(select(orm.requests.c.id).where(
        orm.requests.c.customer_id == customer_id, orm.requests.c.open_target.is_not(None)).limit(1)).first()
    customer = s.get(Customer, customer_id, with_for_update=True)
    if customer is None or customer.anonymised_at is not None or open_requests is not None:
        return False
    token = "ANON-" + hashlib.sha256(f"{customer_id}:{now.isoformat()}".encode()).hexdigest()[:16]
    customer.name, customer.id_doc_number = ANONYMISED_NAME, token
    customer.id_doc_digest = c.keyring.digest(token)
    customer.anonymised_at = now
    for admin in customer.admins:
        admin.name = ANONYMISED_NAME
    numbers = list(s.scalars(select(orm.lines.c.msisdn).where(orm.lines.c.customer_id == customer_id)))
    reasons = s.execute(update(orm.requests).where(orm.requests.c.customer_id == customer_id,
                                                   orm.requests.c.reason.is_not(None)).values(reason=None)).rowcount
    otps = s.execute(delete(orm.otp_codes).where(orm.otp_codes.c.msisdn.in_(numbers))).rowcount if numbers else 0
    sessions = s.execute(delete(orm.sessions).where(orm.sessions.c.principal_id == customer_id)).rowcount
    texts = s.execute(update(orm.outbox).where(orm.outbox.c.to.in_(numbers), orm.outbox.c.sent_at.is_not(None))
                      .values(text="[已按保存期限删除 / removed after the retention period]")).rowcount if numbers else 0
    audit.record(uow, at=now, actor="system:retention", event="retention.purge", subject=f"customer:{customer_id}",
                 details={"rule": "real_name", "retention_days": c.pack.retention_days.get("real_name"),
                          "service_ended_at": ended_at.isoformat() if ended_at else None,
                          "purged": ["name", "id_document", "enterprise_admin_names"],
                          "counts": {"lines": len(numbers), "request_reasons": reasons, "otp_codes": otps,
                                     "sessions": sessions, "message_texts": texts}})
    return True
