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
    tasks: dict = field(default_factory=dict)
    webhook_gateway: object | None = None  # TMF622 hub callbacks (adapters/webhooks.py)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, on_messages=self.enqueue_delivery)

    def enqueue_execution(self, request_id: str) -> None:
        """Without a queue (scripts, unit tests) the saga runs inline; attach() replaces this."""
        from canceldesk.service_layer import executor
        executor.execute(self, request_id)

    def enqueue_delivery(self) -> None:
        pass

    def enqueue_order(self, order_id: str) -> None:
        """Without a queue the TMF622 order's items run inline; attach() replaces this."""
        from canceldesk.service_layer import product_orders
        product_orders.process(self, order_id)
        product_orders.refresh(self, order_id)

    def now(self) -> datetime:
        return self.clock()

    def dispose(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, create_schema: bool = False, with_queue: bool = True,
              clock: Callable[[], datetime] | None = None) -> Container:
    settings = settings or Settings()
    logredact.install()  # no phone number, ID number, token or code reaches any log handler
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # huey logs every task at INFO; our own modules say what matters (a request failed, a duty ran).
    logging.getLogger("huey").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    keyring = crypto.KeyRing.from_settings(settings)
    crypto.configure(keyring)
    orm.start_mappers()
    engine = make_engine(settings.database_url)
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
        clock=clock or utcnow,
    )
    from canceldesk.adapters.webhooks import HttpWebhookGateway
    container.webhook_gateway = HttpWebhookGateway()
    if with_queue:
        from canceldesk.adapters import queue
        queue.attach(container)
    return container
