"""Wires adapters into the service layer. Nothing connects at import time: call bootstrap()."""
from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from canceldesk.adapters import crypto, logredact, orm, ratelimit
from canceldesk.adapters.db import make_engine
from canceldesk.adapters.gateways import SimulatedEmailGateway, SimulatedSmsGateway
from canceldesk.adapters.downstream import (FaultInjector, Partners, Payments, Provisioning, SimulatedPartners,
                                            SimulatedPayments, SimulatedProvisioning, sim_metadata)
from canceldesk.config import Settings
from canceldesk.domain.policy import PolicyPack, pack_from_dict
from canceldesk.adapters.sql_uow import SqlUnitOfWork
from canceldesk.adapters.audit_store import SqlAuditLog
from canceldesk.adapters.auth_store import SqlAccountStore
from canceldesk.service_layer import audit, auth
from canceldesk.service_layer import uow as uow_hooks
from canceldesk.service_layer.uow import UnitOfWork


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def load_policy(code: str) -> PolicyPack:
    text = resources.files("canceldesk.policies").joinpath(f"{code}.toml").read_text(encoding="utf-8")
    return pack_from_dict(tomllib.loads(text))


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker
    pack: PolicyPack
    keyring: crypto.KeyRing
    provisioning: Provisioning
    partners: Partners
    payments: Payments
    clock: Callable[[], datetime] = utcnow
    queue: object | None = None          # huey instance, set by adapters.queue.attach()
    sms_gateway: object | None = None
    email_gateway: object | None = None
    rate_limiter: object | None = None
    staff_limiter: object | None = None  # per staff account look-ups (service_layer/staffscope.py)
    tasks: dict = field(default_factory=dict)
    webhook_gateway: object | None = None  # TMF622 hub callbacks (adapters/webhooks.py)
    engine_lanes: object | None = None  # a worker's service_layer.engine.Engine: queued tasks only wake it

    def uow(self, readonly: bool = False) -> UnitOfWork:
        """One transaction. `readonly=True` for use cases that only read (on SQLite: no write lock taken)."""
        return SqlUnitOfWork(self.session_factory, on_messages=self.enqueue_delivery, readonly=readonly,
                             **uow_hooks.hooks())

    def enqueue_execution(self, request_id: str) -> None:
        """Without a queue (scripts, unit tests) the saga runs inline; attach() replaces this."""
        from canceldesk.service_layer import executor
        executor.execute(self, request_id)

    def enqueue_delivery(self) -> None:
        pass

    @property
    def executes_inline(self) -> bool:
        """True when `enqueue_execution` runs the saga before it returns (no queue, or huey's immediate
        mode: tests, scripts); False when it only hands the request to the workers."""
        return self.queue is None or bool(getattr(self.queue, "immediate", False))

    def enqueue_executions(self, request_ids: list[str]) -> None:
        """Many accepted requests at once: a worker's engine claims them from the database (one
        wake-up); elsewhere each is queued as confirm() queues it."""
        if self.engine_lanes is not None:
            if request_ids:
                self.engine_lanes.nudge()
            return
        for request_id in request_ids:
            self.enqueue_execution(request_id)

    def enqueue_order(self, order_id: str) -> None:
        """Without a queue the TMF622 order's items run inline; attach() replaces this."""
        from canceldesk.service_layer import product_orders
        product_orders.process(self, order_id)
        product_orders.refresh(self, order_id)

    def now(self) -> datetime:
        return self.clock()

    def dispose(self) -> None:
        self.engine.dispose()


SWITCH_INTERVAL = 0.0005  # seconds: see serving_process()


def serving_process() -> None:
    """Tune a long-running server or worker process (not the tests, not scripts).

    A thread that holds the database's write lock releases the GIL for every statement; to get it
    back it waits until the thread running Python gives it up — by default after 5 ms. With dozens
    of request threads busy in one process, a write transaction of ten statements then held the
    (on SQLite: the one, shared) write lock for 10–50 ms instead of 3, and every writer of every
    process queued behind it. A 0.5 ms switch interval hands the GIL back that much sooner."""
    import sys
    sys.setswitchinterval(SWITCH_INTERVAL)


def bootstrap(settings: Settings | None = None, *, create_schema: bool = False, with_queue: bool = True,
              clock: Callable[[], datetime] | None = None) -> Container:
    settings = settings or Settings()
    logredact.install()  # no phone number, ID number, token or code reaches any log handler
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # huey logs every task at INFO; our own modules say what matters (a request failed, a duty ran).
    logging.getLogger("huey").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    keyring = crypto.KeyRing.from_settings(settings)
    crypto.configure(keyring)
    audit.use_keyring(keyring)
    audit.use_bare_log(SqlAuditLog)  # for callers that still hand audit.append a bare SQL session
    auth.use_bare_store(SqlAccountStore)  # for callers that still hand auth a bare SQL session
    orm.start_mappers()
    engine = make_engine(settings.database_url, busy_timeout_seconds=settings.db_busy_timeout_seconds)
    if create_schema:
        orm.metadata.create_all(engine)
    sim_metadata.create_all(engine)  # the simulators' own "remote" state
    faults = FaultInjector(settings.sim_failure_rate, settings.sim_latency_ms, only=settings.sim_fail_only)
    container = Container(
        settings=settings, engine=engine,
        session_factory=sessionmaker(bind=engine, expire_on_commit=False),
        pack=load_policy(settings.policy), keyring=keyring,
        provisioning=SimulatedProvisioning(engine, faults),
        partners=SimulatedPartners(engine, faults),
        payments=SimulatedPayments(engine, faults),
        sms_gateway=SimulatedSmsGateway(engine, faults),
        email_gateway=SimulatedEmailGateway(engine, faults),
        rate_limiter=ratelimit.build(settings),
        staff_limiter=ratelimit.build_staff(settings),
        clock=clock or utcnow,
    )
    from canceldesk.adapters.webhooks import HttpWebhookGateway
    container.webhook_gateway = HttpWebhookGateway()
    if with_queue:
        from canceldesk.adapters import queue
        queue.attach(container, queue_jobs(container))
    return container


def queue_jobs(c: Container):
    """The service-layer functions the queue's tasks run (the queue imports no service layer)."""
    from canceldesk.adapters.queue import Jobs
    from canceldesk.service_layer import delivery, escalations, executor, product_orders, scheduler

    def execute(request_id: str) -> float | None:
        if c.engine_lanes is not None:  # a worker: its engine claims due requests from the database
            c.engine_lanes.nudge()
            return None
        try:
            executor.execute(c, request_id)
        except executor.RetryLater as exc:
            logging.getLogger("canceldesk.queue").info("request %s step %s: retry in %.1fs (%s)", request_id,
                                                       exc.step, exc.delay, exc.error)
            return exc.delay
        return None

    def deliver() -> tuple[bool, float | None]:
        report = delivery.deliver(c)
        retry_in = None if report.retry_at is None else (report.retry_at - c.now()).total_seconds()
        return report.full, retry_in

    return Jobs(execute=execute, deliver=deliver, run_duty=lambda name: scheduler.run(c, name, c.now()),
                due_duties=lambda: scheduler.claim_due(c, c.now()),
                mark_unqueued=lambda request_id: escalations.mark_unqueued(c, request_id),
                order_slices=lambda order_id: product_orders.first_slices(c, order_id),
                process_order=lambda order_id, first, last: product_orders.process_slice(c, order_id, first, last),
                refresh_order=lambda order_id: product_orders.refresh(c, order_id) in ("acknowledged", "inProgress"),
                stalled_orders=lambda: product_orders.stalled(c))
