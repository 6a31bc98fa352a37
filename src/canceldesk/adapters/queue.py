"""The queue: huey, persisted in SQLite by default (embedded), on Redis for many workers.

Tasks are registered on the huey instance when a container is attached, never at import time:
- `execute_request(id)`: advance one request's saga; a transient error re-schedules it with the
  executor's backoff (huey `RetryTask(delay)`), the attempt count lives in the step log.
- `deliver_outbox()`: hand due notifications to the gateways.
- `duties_tick()` (periodic, every minute) → `run_duty(name)` for each scheduled duty that is due;
  a duty runs once per interval across all worker processes (claimed in `duty_runs`).
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time

from dataclasses import dataclass
from typing import Callable

from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.exceptions import RetryTask
from huey.storage import SqliteStorage

log = logging.getLogger("canceldesk.queue")
DELIVERY_SLOT = 0.5  # seconds: at most one delivery task per slot per process


def build_huey(settings):
    url = settings.queue_url
    if url in ("immediate", "memory"):
        return MemoryHuey("canceldesk", immediate=True, results=False)
    if url.startswith(("redis://", "rediss://")):
        return RedisHuey("canceldesk", url=url, results=False)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
    elif settings.database_url.startswith("sqlite:///") and ":memory:" not in settings.database_url:
        db_path = settings.database_url[len("sqlite:///"):]
        path = os.path.join(os.path.dirname(os.path.abspath(db_path)), "queue.db")
    else:
        path = os.path.join("var", "queue.db")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # Several worker processes may share the file: wait for its lock rather than fail.
    return SqliteHuey("canceldesk", filename=path, results=False, timeout=60, storage_class=_QueueFile)


class _QueueFile(SqliteStorage):
    """huey's SQLite storage with the database's own durability setting: WAL with synchronous=NORMAL
    (adapters/db.py) — commits survive a crash of the process, and only an OS crash or power loss can
    take back the last ones. huey's default (FULL) fsyncs on every enqueue, in the request that
    confirms; what a queued task stands for is in the database anyway (an accepted request is resumed
    by the sweeper, an unsent message by the periodic delivery)."""

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


WAKE_SLOT = 0.02  # seconds: at most one "work is due" wake-up task per slot per API process


class _WakeGate:
    """True for the first call in each slot of `seconds`, False for the others (thread-safe)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.lock = threading.Lock()
        self.next_at = 0.0

    def open(self) -> bool:
        now = time.monotonic()
        with self.lock:
            if now < self.next_at:
                return False
            self.next_at = now + self.seconds
            return True


class _DeliveryTrigger:
    """Coalesces 'a message was written' into at most one delivery task per slot: the task runs
    after the end of the slot, so every message committed in the slot is covered by it."""

    def __init__(self, task):
        self.task = task
        self.lock = threading.Lock()
        self.scheduled: set[float] = set()
        self.local = threading.local()

    def __call__(self, delay: float = 0.0) -> None:
        if getattr(self.local, "in_task", False):
            return  # the running task delivers when it finishes
        now = time.time()
        slot = math.floor((now + delay) / DELIVERY_SLOT) * DELIVERY_SLOT + DELIVERY_SLOT
        with self.lock:
            if slot in self.scheduled:
                return
            self.scheduled = {s for s in self.scheduled if s > now - 60} | {slot}
        try:
            self.task.schedule(delay=max(0.0, slot - now))
        except Exception:  # noqa: BLE001 - the periodic delivery duty picks the message up
            log.exception("could not schedule outbox delivery")


@dataclass
class Jobs:
    """What the queue's tasks run, handed in by bootstrap (the queue knows no service layer)."""
    execute: Callable[[str], float | None]      # advance a request; a delay: run it again after it
    deliver: Callable[[], tuple[bool, float | None]]  # one batch: (a full batch, seconds to the next retry)
    run_duty: Callable[[str], None]
    due_duties: Callable[[], list[str]]
    mark_unqueued: Callable[[str], None]
    # TMF622 orders (service_layer/product_orders.py): the first slice of each chain; one slice run,
    # returning the chain's next slice; the order's state derived (True while it is still running);
    # the orders whose tasks were lost, with the slices still to submit.
    order_slices: Callable[[str], list] = lambda order_id: []
    process_order: Callable[[str, int, int], tuple | None] = lambda order_id, first, last: None
    refresh_order: Callable[[str], bool] = lambda order_id: False
    stalled_orders: Callable[[], list] = lambda: []


def attach(c, jobs: Jobs) -> None:
    """Create the queue for this container and register the tasks that run the service layer."""
    huey = build_huey(c.settings)
    c.queue = huey
    trigger: _DeliveryTrigger | None = None

    def deliver_quietly() -> None:
        try:
            full, retry_in = jobs.deliver()
            while full:  # a full batch: there may be more
                full, retry_in = jobs.deliver()
            if retry_in is not None and trigger is not None:
                trigger(max(0.0, retry_in))
        except Exception:  # noqa: BLE001 - never mask the task's own outcome; messages stay pending
            log.exception("outbox delivery failed; the messages stay pending")

    @huey.task(name="deliver_outbox")
    def deliver_outbox():
        deliver_quietly()

    @huey.task(name="execute_request")
    def execute_request(request_id: str):
        # In a worker the task only wakes the engine's lanes (bootstrap.queue_jobs): they write the
        # messages and trigger their delivery after each group, so the task has nothing to deliver —
        # and the two claim transactions it ran per wake-up (up to ~100 a second under load) queued
        # for the database's write lock with everybody else for nothing.
        wake_only = getattr(c, "engine_lanes", None) is not None
        if trigger is not None:
            trigger.local.in_task = True
        try:
            delay = jobs.execute(request_id)
            if delay is not None:
                raise RetryTask(delay=delay)
        finally:
            if trigger is not None:
                trigger.local.in_task = False
            if not wake_only:
                deliver_quietly()

    @huey.task(name="run_duty")
    def run_duty(name: str):
        jobs.run_duty(name)

    @huey.periodic_task(crontab(minute="*"), name="duties_tick")
    def duties_tick():
        for name in jobs.due_duties():
            run_duty(name)

    if huey.immediate:  # tests and scripts: deliver inline, once per task rather than per commit
        local = threading.local()

        def deliver_now() -> None:
            if not getattr(local, "in_task", False):
                deliver_quietly()
        c.enqueue_delivery = deliver_now
        inline_execute = execute_request

        def execute_request(request_id: str):  # noqa: F811 - same task, with inline delivery muted
            local.in_task = True
            try:
                inline_execute(request_id)  # delivers the request's messages when it finishes
            finally:
                local.in_task = False
    else:
        trigger = _DeliveryTrigger(deliver_outbox)
        c.enqueue_delivery = trigger

    wake = _WakeGate(WAKE_SLOT)

    def enqueue_execution(request_id: str) -> None:
        # A worker's engine claims every due request from the database (and polls when idle), so a
        # queued task only wakes it: under load, one wake-up per slot per process is enough — not
        # one queue write per accepted request.
        if not huey.immediate and not wake.open():
            return
        try:
            execute_request(request_id)
        except Exception:  # noqa: BLE001 - accepted is never lost: the sweeper resumes it
            if huey.immediate:
                raise
            log.exception("could not queue request %s; the sweeper will resume it", request_id)
            jobs.mark_unqueued(request_id)

    c.enqueue_execution = enqueue_execution
    _attach_orders(c, huey, jobs)
    c.tasks = {"execute_request": execute_request, "deliver_outbox": deliver_outbox, "run_duty": run_duty,
               "duties_tick": duties_tick}


ORDER_WATCH_SECONDS = 1.0


def _attach_orders(c, huey, jobs: Jobs) -> None:
    """TMF622 orders: their slices are shared by all workers; a watcher derives the order's state
    until it is final; a periodic sweep restarts orders whose tasks were lost (a killed worker)."""

    @huey.task(name="process_order")
    def process_order(order_id: str, first: int, last: int):
        following = jobs.process_order(order_id, first, last)
        if following is not None:
            process_order(order_id, *following)

    @huey.task(name="watch_order")
    def watch_order(order_id: str):
        if jobs.refresh_order(order_id) and not huey.immediate:
            watch_order.schedule(args=(order_id,), delay=ORDER_WATCH_SECONDS)

    @huey.periodic_task(crontab(minute="*"), name="orders_tick")
    def orders_tick():
        for order_id, ranges in jobs.stalled_orders():
            for first, last in ranges:
                process_order(order_id, first, last)
            watch_order(order_id)

    def enqueue_order(order_id: str) -> None:
        for first, last in jobs.order_slices(order_id):
            process_order(order_id, first, last)
        watch_order(order_id)

    c.enqueue_order = enqueue_order
    c.tasks.update(process_order=process_order, watch_order=watch_order, orders_tick=orders_tick)
