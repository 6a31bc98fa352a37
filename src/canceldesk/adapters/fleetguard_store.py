"""SQL of the fleet closure's second factor (service_layer/fleetguard.py, ports.FleetGuardRepository):
one-time codes sent for a batch, and the enterprise's live admin numbers (securitystore's queries)."""
from __future__ import annotations

from datetime import datetime

from . import securitystore


class FleetGuardStore:
    def __init__(self, session):
        self.s = session

    def codes_sent_since(self, msisdn: str, since: datetime) -> int:
        return securitystore.codes_sent_since(self.s, msisdn, since)

    def add_code(self, msisdn: str, code_hash: str, now: datetime, ttl_seconds: int) -> None:
        securitystore.add_code(self.s, msisdn, code_hash, now, ttl_seconds)

    def live_code(self, msisdn: str, now: datetime) -> dict | None:
        row = securitystore.live_code(self.s, msisdn, now)
        return dict(row) if row is not None else None

    def use_code(self, code_id: int, now: datetime) -> None:
        securitystore.use_code(self.s, code_id, now)

    def live_admin_numbers(self, enterprise_id: str) -> list[str]:
        return securitystore.live_admin_numbers(self.s, enterprise_id)
