"""Outbox delivery: at least once, never twice.

Messages are written to the outbox in the transaction of the change that causes them (one row
per event: `dedup_key` is unique). A deliverer claims a batch for a while (`next_attempt_at`),
hands each message to its gateway keyed by the outbox row — the gateway sends a key once, so a
deliverer that dies after sending and before marking, or two deliverers racing, never make a
second message — then marks them sent. A failed send is retried with exponential backoff.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from canceldesk.domain.errors import PermanentError, TransientError
from canceldesk.domain.execution import backoff_seconds

log = logging.getLogger("canceldesk.delivery")
BATCH = 200
MAX_DELAY_SECONDS = 600.0          # failed sends are retried at least every 10 minutes, forever

# The priority lane: messages a person is waiting for right now (a login code; a reply in an SMS or
# IVR conversation). Claimed in small batches for a few seconds (a deliverer that dies holds them
# that long, not a bulk lease), retried within seconds, and never queued behind bulk notices: the
# bulk lane does not claim them at all.
PRIORITY_EVENTS = ("otp", "reply")
PRIORITY_BATCH = 20
PRIORITY_HOLD_SECONDS = 5.0
PRIORITY_RETRY_BASE = 0.25
PRIORITY_RETRY_CAP = 1.0  # a person is waiting: a failing gateway is tried again at least every second
PRIORITY_POLL_SECONDS = 0.5
# A gateway that takes a batch (`send_many`: the simulators' SMS and e-mail) gets a claimed batch's
# messages in one call. Otherwise the batch goes to its gateways over concurrent senders (per process
# and lane: a login code never waits behind bulk notices for a sender), one person's messages in order.
SENDERS = 32
_senders: dict[bool, ThreadPoolExecutor] = {}
_senders_lock = threading.Lock()


def _pool(priority: bool) -> ThreadPoolExecutor:
    with _senders_lock:
        if priority not in _senders:
            _senders[priority] = ThreadPoolExecutor(SENDERS, thread_name_prefix="deliver-priority" if priority
                                                    else "deliver-bulk")
        return _senders[priority]


@dataclass
class Delivered:
    sent: int = 0
    failed: int = 0
    retry_at: datetime | None = None   # earliest pending retry, if any send failed
    full: bool = False                 # a whole batch was claimed: more may be waiting


def deliver(c, limit: int = BATCH, lane: str | None = None) -> Delivered:
    """Deliver one claimed batch of due messages: of the priority lane, the bulk lane, or (None)
    the priority lane's due messages first, then a bulk batch."""
    if lane is None:
        first = deliver(c, PRIORITY_BATCH, "priority")
        rest = deliver(c, limit, "bulk")
        retry = [r for r in (first.retry_at, rest.retry_at) if r is not None]
        return Delivered(sent=first.sent + rest.sent, failed=rest.failed + first.failed,
                         retry_at=min(retry) if retry else None, full=first.full or rest.full)
    priority = lane == "priority"
    now = c.now()
    hold = PRIORITY_HOLD_SECONDS if priority else c.settings.lease_seconds
    with c.uow() as uow:
        # a deliverer that dies lets its batch go after its hold, as a saga run does
        batch = uow.deliveries.claim(now, timedelta(seconds=hold), limit,
                                     events=PRIORITY_EVENTS if priority else None,
                                     exclude=() if priority else PRIORITY_EVENTS)
        uow.commit()
    if not batch:
        return Delivered()
    sent, failed, released = [], [], []
    started = time.monotonic()

    def late(msgs) -> bool:
        if time.monotonic() - started > 0.8 * hold:  # our claim runs out: leave the rest to others
            released.extend(msg.id for msg in msgs)
            return True
        return False

    def outcome(msg, result) -> None:
        if isinstance(result, (TransientError, PermanentError)):
            failed.append((msg.id, msg.attempts, str(result)))
        else:
            sent.append(msg.id)

    def send(msg) -> None:
        if late([msg]):
            return
        try:
            outcome(msg, _gateway(c, msg).send(msg.to, msg.text, key=f"outbox:{msg.id}"))
        except (TransientError, PermanentError) as exc:
            outcome(msg, exc)

    def send_in_order(msgs) -> None:
        for msg in msgs:
            send(msg)

    def send_together(gateway, msgs) -> None:
        """One call for the gateway's messages of the batch (in the batch's order, so one person's
        messages keep theirs); each message's outcome is its own."""
        if late(msgs):
            return
        try:
            results = gateway.send_many([(msg.to, msg.text, f"outbox:{msg.id}") for msg in msgs])
        except (TransientError, PermanentError) as exc:
            results = [exc] * len(msgs)
        for msg, result in zip(msgs, results):
            outcome(msg, result)

    together: dict[int, tuple[object, list]] = {}  # gateways that take a batch in one call
    by_recipient: dict[tuple[str, str], list] = {}  # one person's messages keep their order
    for msg in batch:
        if msg.channel == "void":  # written only so that every OTP request does the same work (auth.send_otp)
            sent.append(msg.id)
            continue
        gateway = _gateway(c, msg)
        if hasattr(gateway, "send_many"):
            together.setdefault(id(gateway), (gateway, []))[1].append(msg)
        else:
            by_recipient.setdefault((msg.channel, msg.to), []).append(msg)
    work = ([(send_together, gateway, msgs) for gateway, msgs in together.values()] +
            [(send_in_order, msgs) for msgs in by_recipient.values()])
    if len(work) > 1:
        for fut in [_pool(priority).submit(*w) for w in work]:
            fut.result()
    else:
        for fn, *args in work:
            fn(*args)
    report = Delivered(sent=len(sent), failed=len(failed), full=len(batch) == limit)
    with c.uow() as uow:
        uow.deliveries.mark_sent(sent, c.now())
        uow.deliveries.release(released)
        failures = []
        for message_id, attempts, error in failed:
            delay = (backoff_seconds(attempts, base=PRIORITY_RETRY_BASE, cap=PRIORITY_RETRY_CAP) if priority else
                     backoff_seconds(attempts, base=c.settings.retry_base_seconds, cap=MAX_DELAY_SECONDS))
            retry_at = now + timedelta(seconds=delay)
            failures.append((message_id, retry_at, error))
            report.retry_at = min(report.retry_at or retry_at, retry_at)
        # one statement for all (not one round trip each while the batch's rows stay locked: a claim
        # that meets them waits for this commit)
        uow.deliveries.mark_failed_many(failures)
        uow.commit()
    if failed:
        log.info("outbox: %d sent, %d to retry", len(sent), len(failed))
    return report


def _gateway(c, msg):
    if msg.channel == "webhook":
        return c.webhook_gateway
    return c.email_gateway if msg.channel == "email" and c.email_gateway else c.sms_gateway


def deliver_pending(c, limit: int = BATCH, max_batches: int = 200) -> int:
    """Deliver everything due now (in batches, each lane); returns how many messages were sent."""
    total = 0
    for lane, size in (("priority", PRIORITY_BATCH), ("bulk", limit)):
        for _ in range(max_batches):
            report = deliver(c, size, lane)
            total += report.sent
            if report.sent + report.failed < size:
                break
    return total


class PriorityLane:
    """A worker's thread for the priority lane: it polls every PRIORITY_POLL_SECONDS whatever the
    queue holds, so a login code reaches the gateway within seconds of being written — also when
    another worker claimed it and died (its claim lasts PRIORITY_HOLD_SECONDS)."""

    def __init__(self, c):
        self.c = c
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="priority-lane", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            wait = PRIORITY_POLL_SECONDS
            try:
                report = deliver(self.c, PRIORITY_BATCH, "priority")
                if report.sent + report.failed == PRIORITY_BATCH:
                    continue  # a full batch: more may be waiting
                if report.retry_at is not None:  # a failed send: back when its retry is due, not at the next poll
                    wait = min(wait, max(0.02, (report.retry_at - self.c.now()).total_seconds()))
            except Exception:  # noqa: BLE001 - the lane never dies; the messages stay pending
                log.exception("priority delivery failed; the messages stay pending")
            self.stopping.wait(wait)


def next_retry_at(c) -> datetime | None:
    """When the earliest pending message is due again (None: nothing waits)."""
    with c.uow() as uow:
        return uow.deliveries.next_pending_at()


def has_unclaimed(c) -> bool:
    """Is any message waiting that no deliverer has tried yet?"""
    with c.uow() as uow:
        return uow.deliveries.has_unclaimed()
