"""Numbers as keys of authority, and the freeze window of closed numbers (冻结期).

A number is not an identity forever. When canceldesk closes a line, or an import re-issues a
number to another customer, every enterprise-admin login bound to that number ends
(`end_admin_logins`): its sessions are revoked, a row in `ended_admin_logins` keeps it ended even
when a later import names the number again, the audit log says so and the enterprise's other admins
are told (the enterprise must name another admin). The pre-check of closing such a number warns
ADMIN_LOGIN and names the enterprise (`admin_login_enterprises`).

Scheduled duty: the freeze window.

A closed number is `frozen` for the pack's freeze days; inside the window its former owner may
`reclaim` it (a request kind: restore_number, issue_receipt). A week before the window ends the
former owner is told (on another active line of theirs, if any); when it ends the number becomes
`recyclable` — unless a reclaim accepted inside the window is still being carried out.
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from canceldesk.domain.identifiers import mask_msisdn

from . import audit
from .auth import accounts
from .notifications import notify

NOTICE_AHEAD = timedelta(days=7)
RECLAIM_UNDER_WAY = ("in_review", "executing", "failed")


def expire_freezes(c, now) -> dict:
    with c.uow() as uow:
        recycled = len(uow.repo.recycle_expired_freezes(now, RECLAIM_UNDER_WAY))  # frozen → recyclable, with history
        noticed = 0
        for msisdn, frozen_until, owner in uow.repo.freezes_ending(now, now + NOTICE_AHEAD):
            other = uow.repo.first_active_line_of(owner)
            if other is None:
                continue
            day = frozen_until.astimezone(ZoneInfo(c.pack.timezone)).date().isoformat()
            notify(uow.repo, to=other, event="freeze_ending", ref=None, at=now,
                   dedup=f"freeze_ending:{msisdn}:{frozen_until.date().isoformat()}", msisdn=mask_msisdn(msisdn), date=day,
                   lang=c.pack.locale)
            noticed += 1
        uow.commit()
    return {"recyclable": recycled, "freeze_ending_notices": noticed}


def admin_login_enterprises(uow, msisdn: str) -> list[str]:
    """Names of the enterprises this number is an admin login of (for the ADMIN_LOGIN warning)."""
    names = []
    for eid in uow.repo.admin_logins_on(msisdn):  # a port: the request use cases run without SQL
        customer = uow.repo.customer(eid)
        names.append(customer.name if customer is not None else eid)
    return names


def end_admin_logins_in(uow, msisdns: list[str], now, reason: str) -> list[tuple[str, str]]:
    """End the admin logins bound to these numbers in the caller's transaction (a unit of work, or
    a bare SQL session or connection): record them as ended and revoke their sessions. Returns
    (msisdn, enterprise)."""
    store = accounts(uow)
    ended = store.live_admin_logins(msisdns)
    for msisdn, eid in ended:
        store.end_admin_login(eid, msisdn, now, reason)
    return ended


def announce_ended_admin_logins(uow, ended: list[tuple[str, str]], now, reason: str, lang: str) -> None:
    """Audit each ended admin login and tell the enterprise's other admins to name another."""
    for msisdn, eid in ended:
        others = [m for m in uow.accounts.live_admin_numbers(eid) if m != msisdn]
        audit.record(uow, at=now, actor="system:numbers", event="admin_login_ended", subject=f"enterprise:{eid}",
                     details={"admin": mask_msisdn(msisdn), "reason": reason, "other_admins_told": len(others)})
        for other in others:
            notify(uow.repo, to=other, event="admin_login_ended", ref=None, at=now,
                   dedup=f"admin_login_ended:{eid}:{msisdn}:{other}:{now.isoformat()}", msisdn=mask_msisdn(msisdn),
                   lang=lang)


def admin_login_numbers(uow, msisdns: set[str]) -> set[str]:
    """Which of these numbers are a live admin login (one statement for many: the engine's groups)."""
    return {m for m, _ in accounts(uow).live_admin_logins(sorted(msisdns))}


def end_admin_logins(uow, msisdn: str, now, lang: str, reason: str = "closed") -> int:
    """The executor's hook when it freezes a closed number."""
    ended = end_admin_logins_in(uow, [msisdn], now, reason)
    announce_ended_admin_logins(uow, ended, now, reason, lang)
    return len(ended)
