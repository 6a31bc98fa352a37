"""Outside systems in memory (downstream Protocols), the saga's settings and the fake container."""
from __future__ import annotations

from dataclasses import dataclass, field
import threading
from datetime import datetime
from typing import Callable

from canceldesk.domain.errors import PermanentError
from canceldesk.domain.policy import PolicyPack

from .store import Store
from .uow import InMemoryUnitOfWork




class FakeDownstream:
    """An outside system (adapters/downstream.py's Protocols) in memory: it acts once per key — a
    repeated key returns the first call's reference — and records every call made to it. `fail`
    maps an action to the exception its next calls raise (before acting)."""

    def __init__(self, system: str):
        self.system = system
        self.done: dict[str, dict] = {}   # key -> what the remote side did, once
        self.calls: list[tuple[str, str]] = []  # (action, key) of every call, repeats included
        self.fail: dict[str, Exception] = {}
        self._lock = threading.Lock()

    def _act(self, key: str, action: str, target: str, amount: int | None = None) -> str:
        with self._lock:
            self.calls.append((action, key))
            if action in self.fail:
                raise self.fail[action]
            if key not in self.done:
                self.done[key] = {"action": action, "target": target, "amount": amount,
                                  "reference": f"{self.system[:3].upper()}-{len(self.done) + 1:04d}"}
            return self.done[key]["reference"]

    def acted(self, action: str) -> list[dict]:
        return [d for d in self.done.values() if d["action"] == action]


class FakeProvisioning(FakeDownstream):
    def __init__(self):
        super().__init__("provisioning")

    def bar_line(self, msisdn: str, key: str) -> str:
        return self._act(key, "bar", msisdn)

    def restore_line(self, msisdn: str, key: str) -> str:
        return self._act(key, "restore", msisdn)


class FakePartners(FakeDownstream):
    def __init__(self):
        super().__init__("partners")

    def stop_service(self, subscription_id: str, product_code: str, key: str) -> str:
        return self._act(key, "stop", subscription_id)

    def stop_renewal(self, subscription_id: str, product_code: str, key: str) -> str:
        return self._act(key, "stop_renewal", subscription_id)


class FakePayments(FakeDownstream):
    def __init__(self):
        super().__init__("payments")

    def refund(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str:
        if amount <= 0:
            raise PermanentError("payments: refund amount must be positive")
        return self._act(key, "refund", msisdn, amount)

    def charge(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str:
        if amount <= 0:
            raise PermanentError("payments: charge amount must be positive")
        return self._act(key, "charge", msisdn, amount)


@dataclass
class FakeSettings:
    """The settings the saga reads (config.Settings' names)."""
    lease_seconds: int = 30
    retry_max_attempts: int = 3
    retry_base_seconds: float = 1.0
    queue_grace_seconds: int = 60
    operator_name: str = ""


@dataclass
class FakeContainer:
    """What the request use cases ask of the container, with the in-memory unit of work."""
    pack: PolicyPack
    clock: Callable[[], datetime]
    store: Store = field(default_factory=Store)
    enqueued: list[str] = field(default_factory=list)
    keyring: object | None = None
    settings: FakeSettings = field(default_factory=FakeSettings)
    provisioning: FakeProvisioning = field(default_factory=FakeProvisioning)
    partners: FakePartners = field(default_factory=FakePartners)
    payments: FakePayments = field(default_factory=FakePayments)
    deliveries_nudged: int = 0

    def uow(self, readonly: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def now(self) -> datetime:
        return self.clock()

    def enqueue_execution(self, request_id: str) -> None:
        self.enqueued.append(request_id)

    def enqueue_delivery(self) -> None:
        self.deliveries_nudged += 1
