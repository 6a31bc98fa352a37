"""Scheduled duty: the freeze window of closed numbers (冻结期).

A closed number is `frozen` for the pack's freeze days; inside the window its former owner may
`reclaim` it (a request kind: restore_number, issue_receipt). A week before the window ends the
former owner is told (on another active line of theirs, if any); when it ends the number becomes
`recyclable` — unless a reclaim accepted inside the window is still being carried out.
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from canceldesk.adapters import orm
from canceldesk.domain.identifiers import mask_msisdn
from canceldesk.domain.lifecycle import RequestKind
from canceldesk.domain.model import LineStatus

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
                   dedup=f"freeze_ending:{msisdn}:{frozen_until.date().isoformat()}", msisdn=mask_msisdn(msisdn), date=day,
                   lang=c.pack.locale)
            noticed += 1
        uow.commit()
    return {"recyclable": recycled, "freeze_ending_notices": noticed}
