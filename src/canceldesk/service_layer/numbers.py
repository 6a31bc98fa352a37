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

from sqlalchemy import and_, exists, not_, select, update

from canceldesk.adapters import orm, securitystore
from canceldesk.domain.identifiers import mask_msisdn
from canceldesk.domain.lifecycle import RequestKind
from canceldesk.domain.model import LineStatus

from . import audit
from .notifications import notify

NOTICE_AHEAD = timedelta(days=7)
RECLAIM_UNDER_WAY = ("in_review", "executing", "failed")


def expire_freezes(c, now) -> dict:
    lines, reqs = orm.lines, orm.requests
    under_way = select(reqs.c.msisdn).where(reqs.c.kind == RequestKind.RECLAIM, reqs.c.status.in_(RECLAIM_UNDER_WAY))
    with c.uow() as uow:
        res = uow.session.execute(
            update(lines).where(lines.c.status == LineStatus.FROZEN, lines.c.frozen_until <= now,
                                lines.c.msisdn.not_in(under_way))
            .values(status=LineStatus.RECYCLABLE, version=lines.c.version + 1))
        recycled = res.rowcount
        ending = uow.session.execute(select(lines.c.msisdn, lines.c.frozen_until, lines.c.former_customer_id).where(
            lines.c.status == LineStatus.FROZEN, lines.c.frozen_until > now,
            lines.c.frozen_until <= now + NOTICE_AHEAD)).all()
        noticed = 0
        for msisdn, frozen_until, owner in ending:
            other = uow.session.execute(select(lines.c.msisdn).where(
                lines.c.customer_id == owner, lines.c.status == LineStatus.ACTIVE).order_by(lines.c.msisdn).limit(1)).scalar()
            if other is None:
                continue
            day = frozen_until.astimezone(ZoneInfo(c.pack.timezone)).date().isoformat()
            notify(uow.repo, to=other, event="freeze_ending", ref=None, at=now,
                   dedup=f"freeze_ending:{msisdn}:{frozen_until.date().isoformat()}", msisdn=mask_msisdn(msisdn), date=day)
            noticed += 1
        uow.commit()
    return {"recyclable": recycled, "freeze_ending_notices": noticed}


def _live_admin_logins(s, msisdns: list[str]) -> list:
    """(admin msisdn, enterprise id) of the admin logins on these numbers that have not ended."""
    ea, ended = orm.enterprise_admins, orm.ended_admin_logins
    gone = exists().where(and_(ended.c.msisdn == ea.c.msisdn, ended.c.enterprise_id == ea.c.enterprise_id))
    return s.execute(select(ea.c.msisdn, ea.c.enterprise_id).distinct()
                     .where(ea.c.msisdn.in_(msisdns), not_(gone)).order_by(ea.c.enterprise_id)).all()


live_admin_filter = securitystore.live_admin_filter  # enterprise_admins rows whose login has not ended


def admin_login_enterprises(uow, msisdn: str) -> list[str]:
    """Names of the enterprises this number is an admin login of (for the ADMIN_LOGIN warning)."""
    names = []
    for _, eid in _live_admin_logins(uow.session, [msisdn]):
        customer = uow.repo.customer(eid)
        names.append(customer.name if customer is not None else eid)
    return names


def end_admin_logins_in(s, msisdns: list[str], now, reason: str) -> list[tuple[str, str]]:
    """End the admin logins bound to these numbers in the caller's transaction (a Session or a
    Connection): record them as ended and revoke their sessions. Returns (msisdn, enterprise)."""
    ended = _live_admin_logins(s, msisdns) if msisdns else []
    for msisdn, eid in ended:
        s.execute(orm.ended_admin_logins.insert().values(enterprise_id=eid, msisdn=msisdn, ended_at=now, reason=reason))
        s.execute(update(orm.sessions).where(orm.sessions.c.principal_kind == "enterprise_admin",
                                             orm.sessions.c.login_msisdn == msisdn,
                                             orm.sessions.c.revoked_at.is_(None)).values(revoked_at=now))
    return [(m, e) for m, e in ended]


def announce_ended_admin_logins(uow, ended: list[tuple[str, str]], now, reason: str) -> None:
    """Audit each ended admin login and tell the enterprise's other admins to name another."""
    for msisdn, eid in ended:
        others = [m for m in securitystore.live_admin_numbers(uow.session, eid) if m != msisdn]
        audit.record(uow, at=now, actor="system:numbers", event="admin_login_ended", subject=f"enterprise:{eid}",
                     details={"admin": mask_msisdn(msisdn), "reason": reason, "other_admins_told": len(others)})
        for other in others:
            notify(uow.repo, to=other, event="admin_login_ended", ref=None, at=now,
                   dedup=f"admin_login_ended:{eid}:{msisdn}:{other}:{now.isoformat()}", msisdn=mask_msisdn(msisdn))


def end_admin_logins(uow, msisdn: str, now, reason: str = "closed") -> int:
    """The executor's hook when it freezes a closed number."""
    ended = end_admin_logins_in(uow.session, [msisdn], now, reason)
    announce_ended_admin_logins(uow, ended, now, reason)
    return len(ended)
