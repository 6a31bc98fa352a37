"""Downstream systems behind Protocols: provisioning (HLR/HSS/UDM), partners, payments.

Each has a simulator with injectable failures and latency (CANCELDESK_SIM_FAILURE_RATE,
CANCELDESK_SIM_LATENCY_MS). The simulators keep their own state in their own tables, written in
their own transactions — as an outside system would — so a retry after a crash meets what the
"remote side" already did, and idempotency keys are honoured there too.
"""
from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timezone
from typing import Protocol

from sqlalchemy import Column, DateTime, MetaData, String, Table, BigInteger, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

# the errors of every downstream call: the domain names them so the service layer catches them
from canceldesk.domain.errors import PermanentError as PermanentError, TransientError as TransientError


class Provisioning(Protocol):
    def bar_line(self, msisdn: str, key: str) -> str: ...
    def restore_line(self, msisdn: str, key: str) -> str: ...


class Partners(Protocol):
    def stop_service(self, subscription_id: str, product_code: str, key: str) -> str: ...
    def stop_renewal(self, subscription_id: str, product_code: str, key: str) -> str: ...


class Payments(Protocol):
    def refund(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str: ...
    def charge(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str: ...


sim_metadata = MetaData()
sim_calls = Table(
    "sim_calls", sim_metadata,
    Column("key", String(160), primary_key=True),
    Column("system", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(64), nullable=False),
    Column("amount", BigInteger),
    Column("reference", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


class FaultInjector:
    """Faults of an outside system: latency, failures before it acts (errors and timeouts) and lost
    replies after it acted. Half the injected failures are timeouts: the caller waits
    `timeout_factor` × the latency before giving up, as a real client with a deadline would."""

    def __init__(self, failure_rate: float = 0.0, latency_ms: int = 0, seed: int | None = None,
                 timeout_factor: float = 3.0, only: str | set[str] = ""):
        self.failure_rate = failure_rate
        self.latency_ms = latency_ms
        self.timeout_factor = timeout_factor
        self.only = {x.strip() for x in only.split(",") if x.strip()} if isinstance(only, str) else set(only)
        self._rng = random.Random(seed)

    def _fails(self, system: str, rate: float) -> bool:
        return bool(rate) and (not self.only or system in self.only) and self._rng.random() < rate

    def before(self, system: str) -> None:
        if self.latency_ms:
            time.sleep(self._rng.uniform(0.5, 1.5) * self.latency_ms / 1000)
        if self._fails(system, self.failure_rate):
            if self._rng.random() < 0.5:
                time.sleep(self.timeout_factor * self.latency_ms / 1000)
                raise TransientError(f"{system}: simulated timeout")
            raise TransientError(f"{system}: simulated error (503)")

    def after(self, system: str) -> None:
        # A failure *after* the remote side acted: the caller sees an error although the work is
        # done. Idempotency keys make the retry harmless.
        if self._fails(system, self.failure_rate / 3):
            raise TransientError(f"{system}: simulated lost reply")


class _SimulatedSystem:
    system = "sim"

    def __init__(self, engine: Engine, faults: FaultInjector):
        self.engine = engine
        self.faults = faults

    def _call(self, key: str, action: str, target: str, amount: int | None = None) -> str:
        """Act once per key: a repeated key returns the first call's reference, as an idempotent
        API does (the remote side never acts twice)."""
        self.faults.before(self.system)
        remote_key = f"{self.system}:{key}"
        reference = f"{self.system[:3].upper()}-{uuid.uuid4().hex[:12]}"
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":  # the remote side's own durability is not ours to wait for
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                conn.execute(insert(sim_calls).values(key=remote_key, system=self.system, action=action, target=target,
                                                      amount=amount, reference=reference, at=datetime.now(timezone.utc)))
        except IntegrityError:  # done before (a retry, or a racing duplicate): the original result
            with self.engine.connect() as conn:
                reference = conn.execute(select(sim_calls.c.reference).where(sim_calls.c.key == remote_key)).scalar_one()
        self.faults.after(self.system)
        return reference


class SimulatedProvisioning(_SimulatedSystem):
    system = "provisioning"

    def bar_line(self, msisdn: str, key: str) -> str:
        return self._call(key, "bar", msisdn)

    def restore_line(self, msisdn: str, key: str) -> str:
        return self._call(key, "restore", msisdn)


class SimulatedPartners(_SimulatedSystem):
    system = "partners"

    def stop_service(self, subscription_id: str, product_code: str, key: str) -> str:
        return self._call(key, "stop", subscription_id)

    def stop_renewal(self, subscription_id: str, product_code: str, key: str) -> str:
        return self._call(key, "stop_renewal", subscription_id)


class SimulatedPayments(_SimulatedSystem):
    system = "payments"

    def refund(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str:
        if amount <= 0:
            raise PermanentError("payments: refund amount must be positive")
        return self._call(key, f"refund:{method}", msisdn, amount)

    def charge(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str:
        """A renewal charge (代扣) on the subscriber's original payment method, once per key."""
        if amount <= 0:
            raise PermanentError("payments: charge amount must be positive")
        return self._call(key, f"charge:{method}", msisdn, amount)
