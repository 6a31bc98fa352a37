"""Scheduled duty: the freeze window of closed numbers (冻结期).

A closed number is `frozen` for the pack's freeze days; inside the window its former owner may
`reclaim` it (a request kind: restore_number, issue_receipt). A week before the window ends the
former owner is told (on another active line of theirs, if any); when it ends the number becomes
`recyclable` — unless a reclaim accepted inside the window is still being carried out.
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from canceldesk.domain.identifiers import mask_msisdn

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
                   dedup=f"freeze_ending:{msisdn}:{frozen_until.date().isoformat()}", msisdn=mask_msisdn(msisdn), date=day)
            noticed += 1
        uow.commit()
    return {"recyclable": recycled, "freeze_ending_notices": noticed}
