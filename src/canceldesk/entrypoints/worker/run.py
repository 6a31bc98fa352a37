"""`canceldesk worker`: the huey consumer (threads) for queued and periodic work."""
from __future__ import annotations

import logging

log = logging.getLogger("canceldesk.worker")


def run_worker(c, workers: int = 2) -> None:
    if c.queue is None or c.queue.immediate:
        raise SystemExit("the worker needs a real queue: set CANCELDESK_QUEUE_URL to 'embedded' or redis://…")
    consumer = c.queue.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                       initial_delay=0.05, max_delay=1.0, check_worker_health=True)
    log.info("worker started: %d threads on %s", workers, type(c.queue).__name__)
    consumer.run()
