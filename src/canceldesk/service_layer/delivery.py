"""Outbox delivery: at least once, through the SMS / e-mail gateway adapters, de-duplicated by key."""
from __future__ import annotations

from sqlalchemy import select, update

from canceldesk.adapters import orm


def deliver_pending(c, limit: int = 500) -> int:
    """Hand pending outbox messages to the gateways; returns how many were sent."""
    now = c.now()
    sent = 0
    with c.uow() as uow:
        rows = uow.session.execute(select(orm.outbox.c.id, orm.outbox.c.channel, orm.outbox.c.to, orm.outbox.c.text)
                                   .where(orm.outbox.c.sent_at.is_(None)).order_by(orm.outbox.c.id).limit(limit)).all()
    for row in rows:
        c.sms_gateway.send(row.to, row.text, key=f"outbox:{row.id}")
        with c.uow() as uow:
            res = uow.session.execute(update(orm.outbox).where(orm.outbox.c.id == row.id, orm.outbox.c.sent_at.is_(None))
                                      .values(sent_at=now, attempts=orm.outbox.c.attempts + 1))
            uow.commit()
            sent += res.rowcount
    return sent
