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

from canceldesk.domain.model import LineStatus

from . import audit

log = logging.getLogger("canceldesk.retention")
ENDED = (LineStatus.FROZEN, LineStatus.RECYCLABLE)
ANONYMISED_NAME = "已匿名"
REMOVED_TEXT = "[已按保存期限删除 / removed after the retention period]"


def due_for_purge(c, now, limit: int = 500) -> list[tuple[str, object]]:
    days = c.pack.retention_days.get("real_name")
    if not days:
        return []
    with c.uow() as uow:
        return uow.retention.customers_ended_before([str(s) for s in ENDED], now - timedelta(days=days), limit)


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
    store = uow.retention
    open_requests = store.has_open_request(customer_id)
    customer = store.customer_for_update(customer_id)
    if customer is None or customer.anonymised_at is not None or open_requests:
        return False
    token = "ANON-" + hashlib.sha256(f"{customer_id}:{now.isoformat()}".encode()).hexdigest()[:16]
    customer.name, customer.id_doc_number = ANONYMISED_NAME, token
    customer.id_doc_digest = c.keyring.digest(token)
    customer.anonymised_at = now
    for admin in customer.admins:
        admin.name = ANONYMISED_NAME
    numbers = store.numbers_of(customer_id)
    reasons = store.clear_request_reasons(customer_id)
    otps = store.delete_codes(numbers)
    sessions = store.delete_sessions(customer_id)
    texts = store.redact_sent_messages(numbers, REMOVED_TEXT)
    audit.record(uow, at=now, actor="system:retention", event="retention.purge", subject=f"customer:{customer_id}",
                 details={"rule": "real_name", "retention_days": c.pack.retention_days.get("real_name"),
                          "service_ended_at": ended_at.isoformat() if ended_at else None,
                          "purged": ["name", "id_document", "enterprise_admin_names"],
                          "counts": {"lines": len(numbers), "request_reasons": reasons, "otp_codes": otps,
                                     "sessions": sessions, "message_texts": texts}})
    return True
