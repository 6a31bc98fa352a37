"""Scheduled duties: plain functions `(c, now)`, run periodically by the queue (adapters/queue.py
`duties_tick`, every minute) and callable directly by tests with a fake clock.

| duty              | every  | what                                                              |
|-------------------|--------|-------------------------------------------------------------------|
| sweep             | 1 min  | escalate requests past their promised time; resume stalled ones   |
| deliver_outbox    | 1 min  | deliver notifications whose earlier attempt failed or was lost    |
| renewal_reminders | 10 min | remind ahead of auto-renewals (pack: CN 5 days)                    |
| renewals          | 10 min | charge / postpone / end subscriptions at period end               |
| freeze_expiry     | 1 h    | frozen numbers past their window become recyclable                |
| retention_purge   | 1 day  | anonymise personal data past the pack's retention, audited         |
| channel_state_purge | 1 day | SMS/IVR conversations idle a day, inbound message ids after 30 days |

A duty runs once per interval whatever the number of worker processes: each tick claims it in
`duty_runs` (a conditional update), and every duty is idempotent anyway.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from canceldesk.domain.errors import IntegrityConflict

from . import channels, delivery, escalations, numbers, renewals, retention

log = logging.getLogger("canceldesk.scheduler")


def sweep(c, now) -> dict:
    """The sweeper: nothing stays silent. Past-deadline requests are escalated (subscriber told
    the new expected time); requests whose worker died are queued again; notifications due for
    (re)delivery get a deliverer."""
    out = {"overdue": escalations.escalate_overdue(c, now), "resumed": escalations.resume_stalled(c, now)}
    due = delivery.next_retry_at(c)
    if due is not None and due <= now or delivery.has_unclaimed(c):
        c.enqueue_delivery()
    return out


def deliver_outbox(c, now) -> dict:
    return {"sent": delivery.deliver_pending(c)}


@dataclass(frozen=True)
class Duty:
    name: str
    every: timedelta
    run: Callable


DUTIES: dict[str, Duty] = {d.name: d for d in (
    Duty("sweep", timedelta(minutes=1), sweep),
    Duty("deliver_outbox", timedelta(minutes=1), deliver_outbox),
    Duty("renewal_reminders", timedelta(minutes=10), renewals.send_reminders),
    Duty("renewals", timedelta(minutes=10), renewals.run_renewals),
    Duty("freeze_expiry", timedelta(hours=1), numbers.expire_freezes),
    Duty("retention_purge", timedelta(days=1), retention.purge),
    Duty("channel_state_purge", timedelta(days=1), channels.purge_state),
)}


def claim_due(c, now) -> list[str]:
    """The duties due now, each claimed for this tick (a tick a little early still counts)."""
    claimed = []
    for duty in DUTIES.values():
        with c.uow() as uow:
            if uow.duties.claim(duty.name, now, duty.every * 0.9):
                uow.commit()
                claimed.append(duty.name)
    return claimed


def run(c, name: str, now) -> dict:
    outcome = DUTIES[name].run(c, now)
    try:
        with c.uow() as uow:
            uow.duties.finish(name, c.now(), outcome)
            uow.commit()
    except IntegrityConflict:  # another process recorded its first run at the same moment
        pass
    if any(outcome.values()):
        log.info("duty %s: %s", name, outcome)
    return outcome


def run_all(c, now) -> dict:
    """Every duty once, in order (tests, `canceldesk duties`)."""
    return {name: DUTIES[name].run(c, now) for name in DUTIES}
