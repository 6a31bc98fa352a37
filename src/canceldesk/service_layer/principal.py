"""Who is acting: a subscriber (a real-name person) or a staff member with a role."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    kind: str                      # subscriber | staff
    id: str                        # customer id, or staff username
    role: str = "subscriber"       # subscriber | agent | reviewer | admin | enterprise_admin
    store: str | None = None
    enterprise_id: str | None = None
    login_msisdn: str | None = None
    display_name: str = ""

    @property
    def is_subscriber(self) -> bool:
        return self.kind == "subscriber"

    @property
    def actor(self) -> str:
        """How the timeline names this actor (never personal data)."""
        if self.is_subscriber:
            return f"subscriber:{self.id}"
        return f"{self.role}:{self.id}" + (f"@{self.store}" if self.store else "")

    @property
    def channel(self) -> str:
        return {"subscriber": "app", "agent": "counter", "enterprise_admin": "enterprise"}.get(self.role, "staff")

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


SYSTEM = Principal(kind="system", id="worker", role="system")
