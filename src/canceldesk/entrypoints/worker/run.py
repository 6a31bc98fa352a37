"""`canceldesk worker`: the huey consumer (threads) for queued and periodic work.

Run as many worker processes as you like, on one machine or many: with the embedded queue they
share the SQLite queue file next to the database; with CANCELDESK_QUEUE_URL=redis://… they share
the Redis queue. Each process also runs the periodic scheduler; duties are claimed in the
database, so each runs once per interval whatever the number of processes.
"""
from __future__ import annotations

import gc
import logging
import os
import socket

log = logging.getLogger("canceldesk.worker")


def run_worker(c, workers: int = 2) -> None:
    if c.queue is None or c.queue.immediate:
        raise SystemExit("the worker needs a real queue: set CANCELDESK_QUEUE_URL to 'embedded' or redis://…")
    consumer = c.queue.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                       initial_delay=0.05, backoff=1.15, max_delay=1.0, scheduler_interval=1,
                                       check_worker_health=True)
    from canceldesk.service_layer.engine import Engine
    gc.freeze()  # what start-up loaded (modules, the container) lives as long as the process: out of full collections
    c.engine_lanes = Engine(c)  # group commit, many downstream calls in flight (service_layer/engine.py)
    c.engine_lanes.start()
    from canceldesk.service_layer.delivery import PriorityLane
    priority = PriorityLane(c)  # login codes and replies: their own lane, polled, short claims
    priority.start()
    # A worker that starts after a crash sweeps at once: requests the dead one held are resumed as
    # soon as their lease lapses, without waiting for the next periodic tick.
    c.tasks["run_duty"]("sweep")
    log.info("worker %s:%d started: %d threads on %s", socket.gethostname(), os.getpid(), workers,
             type(c.queue).__name__)
    try:
        consumer.run()
    finally:
        priority.stop()
        c.engine_lanes.stop()
