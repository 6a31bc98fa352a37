"""Outbox delivery: at least once, never twice.

Messages are written to the outbox in the transaction of the change that causes them (one row
per event: `dedup_key` is unique). A deliverer claims a batch for a while (`next_attempt_at`),
hands each message to its gateway keyed by the outbox row — the gateway sends a key once, so a
deliverer that dies after sending and before marking, or two deliverers racing, never make a
second message — then marks them sent. A failed send is retried with exponential backoff.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from canceldesk.adapters import durable
from canceldesk.adapters.downstream import PermanentError, TransientError
from canceldesk.domain.execution import backoff_seconds

log = logging.getLogger("canceldesk.delivery")
BATCH = 50
MAX_DELAY_SECONDS = 600.0          # failed sends are retried at least every 10 minutes, forever


@dataclass
class Delivered:
    sent: int = 0
    failed: int = 0
    retry_at: datetime | None = None   # earliest pending retry, if any send failed


def deliver(c, limit: int = BATCH) -> Delivered:
    """Deliver one claimed batch of due messages."""
    now = c.now()
    hold = c.settings.lease_seconds
    with c.uow() as uow:
        # a deliverer that dies lets its batch go after a lease, as a saga run does
        batch = durable.claim_messages(uow.session, now, timedelta(seconds=hold), limit)
        uow.commit()
    if not batch:
        return Delivered()
    sent, failed, released = [], [], []
    started = time.monotonic()
    for msg in batch:
        if time.monotonic() - started > 0.8 * hold:  # our claim runs out: leave the rest to others
            released.append(msg.id)
            continue
        gateway = c.email_gateway if msg.channel == "email" and c.email_gateway else c.sms_gateway
        if msg.channel == "webhook":
            gateway = c.webhook_gateway
        try:
            gateway.send(msg.to, msg.text, key=f"outbox:{msg.id}")
            sent.append(msg.id)
        except (TransientError, PermanentError) as exc:
            failed.append((msg.id, msg.attempts, str(exc)))
    report = Delivered(sent=len(sent), failed=len(failed))
    with c.uow() as uow:
        durable.mark_sent(uow.session, sent, c.now())
        durable.release_messages(uow.session, released)
        for message_id, attempts, error in failed:
            delay = backoff_seconds(attempts, base=c.settings.retry_base_seconds, cap=MAX_DELAY_SECONDS)
            retry_at = now + timedelta(seconds=delay)
            durable.mark_failed(uow.session, message_id, retry_at, error)
            report.retry_at = min(report.retry_at or retry_at, retry_at)
        uow.commit()
    if failed:
        log.info("outbox: %d sent, %d to retry", len(sent), len(failed))
    return report


def deliver_pending(c, limit: int = BATCH, max_batches: int = 200) -> int:
    """Deliver everything due now (in batches); returns how many messages were sent."""
    total = 0
    for _ in range(max_batches):
        report = deliver(c, limit)
        total += report.sent
        if report.sent + report.failed < limit:
            break
    return total


def next_retry_at(c) -> datetime | None:
    """When the earliest pending message is due again (None: nothing waits)."""
    with c.uow() as uow:
        return durable.next_pending_at(uow.session)


def has_unclaimed(c) -> bool:
    """Is any message waiting that no deliverer has tried yet?"""
    with c.uow() as uow:
        return durable.has_unclaimed_messages(uow.session)
