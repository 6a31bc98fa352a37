"""Who is acting: a subscriber (a real-name person) or a staff member with a role.

Roles: `subscriber` (OTP login, their own lines), `agent` (counter staff, bound to one store),
`reviewer` (decides requests in review), `admin` (back office), `enterprise_admin` (the lines of
one enterprise). Which role may do what is the one table `MAY` below — the API's dependencies
(entrypoints/api/deps.py), the pages' areas and templates, and the use cases all read it; which
*objects* a role may see is decided in the service layer (requests.visible_line / owned_request,
staffscope), using the helpers here.
"""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("subscriber", "agent", "reviewer", "admin", "enterprise_admin")

# The one roles table: action -> the roles that may do it.
MAY: dict[str, tuple[str, ...]] = {
    "own_lines": ("subscriber",),                             # their lines (every one under their identity)
    "request": ("subscriber", "agent", "enterprise_admin"),   # ask to end something and confirm it
    "precheck": ("subscriber", "agent", "enterprise_admin", "reviewer", "admin"),
    "read_requests": ("subscriber", "agent", "enterprise_admin", "reviewer", "admin"),
    "counter": ("agent", "admin"),                            # look customers up, check an ID in person
    "staff_pages": ("agent", "reviewer", "admin"),            # the counter console; a staff account
    "retry": ("agent", "reviewer", "admin"),                  # run a failed request again (own store for agents)
    "review": ("reviewer", "admin"),                          # review queue, escalations and complaints of every store
    "any_customer": ("admin",),                               # customers nobody verified in person here
    "admin": ("admin",),                                      # import, dashboard and reports
    "enterprise": ("enterprise_admin",),                      # the company's lines and batches
}
STAFF_ROLES = MAY["staff_pages"]
ACCOUNT_ROLES = tuple(r for r in ROLES if r != "subscriber")  # roles a staff account (password login) may have


def may(who: "Principal | str | None", action: str) -> bool:
    """Whether this principal (or role) may do `action` (a key of MAY)."""
    role = who if isinstance(who, str) or who is None else who.role
    return role in MAY[action]


@dataclass(frozen=True)
class Principal:
    kind: str                      # subscriber | staff | system
    id: str                        # customer id, staff username, or "ea<n>" for an OTP enterprise admin
    role: str = "subscriber"       # subscriber | agent | reviewer | admin | enterprise_admin
    store: str | None = None
    enterprise_id: str | None = None
    login_msisdn: str | None = None
    display_name: str = ""
    # The channel this principal acts through when it is not the role's usual one (sms, ivr,
    # kiosk; TMF622 calls: "partner"): recorded on every transition it causes (create, confirm, withdraw).
    via: str | None = None

    @property
    def is_subscriber(self) -> bool:
        return self.kind == "subscriber"

    @property
    def actor(self) -> str:
        """How the timeline and the audit log name this actor (never personal data)."""
        if self.is_subscriber:
            return f"subscriber:{self.id}"
        return f"{self.role}:{self.id}" + (f"@{self.store}" if self.store else "")

    @property
    def channel(self) -> str:
        if self.via:
            return self.via
        return {"subscriber": "app", "agent": "counter", "enterprise_admin": "enterprise"}.get(self.role, "staff")

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def acted_at_own_store(self, requested_by: str | None) -> bool:
        """An agent's view of counter requests: only those taken at the agent's own store."""
        return bool(self.role == "agent" and self.store and requested_by
                    and requested_by.startswith("agent:") and requested_by.endswith(f"@{self.store}"))

    def may_confirm(self, requested_by: str | None) -> bool:
        """Confirming ends something for good: the person themself (with step-up), their
        enterprise admin, or the counter that checked the ID in person — never back office."""
        if self.is_subscriber or self.role == "enterprise_admin":
            return True
        return self.acted_at_own_store(requested_by)


SYSTEM = Principal(kind="system", id="worker", role="system")
