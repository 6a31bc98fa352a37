"""Accepted requests wake a worker's engine; they are not each a queue write. The engine claims every due
request from the database (tests/integration/test_engine.py runs it with no wake-ups at all), so a burst
of confirmations costs one queued wake-up per slot per API process."""
from __future__ import annotations

import time

from canceldesk.adapters import queue
from canceldesk.config import Settings


class _C:
    def __init__(self, settings):
        self.settings = settings
        self.enqueue_delivery = None
        self.tasks = {}


def _jobs():
    return queue.Jobs(execute=lambda rid: None, deliver=lambda: (False, None), run_duty=lambda name: None,
                      due_duties=lambda: [], mark_unqueued=lambda rid: None)


def test_a_burst_of_200_confirmations_queues_a_handful_of_wakeups(tmp_path):
    c = _C(Settings(env="test", database_url=f"sqlite:///{tmp_path}/db.db", queue_url=f"sqlite:///{tmp_path}/q.db"))
    queue.attach(c, _jobs())
    t0 = time.monotonic()
    for i in range(200):
        c.enqueue_execution(f"r{i}")
    slots = int((time.monotonic() - t0) / queue.WAKE_SLOT) + 1
    pending = c.queue.pending_count()
    assert 1 <= pending <= slots  # one per slot the burst spanned, never one per request
    assert pending < 200


def test_the_first_confirmation_after_a_quiet_slot_wakes_at_once():
    gate = queue._WakeGate(0.05)
    assert gate.open() is True
    assert gate.open() is False
    time.sleep(0.06)
    assert gate.open() is True
