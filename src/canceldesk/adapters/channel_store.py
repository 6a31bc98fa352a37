"""The channels' own tables: inbound message ids and conversation state (never commits)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import orm


class ChannelStore:
    def __init__(self, session: Session):
        self.s = session

    def claim_inbound(self, channel: str, message_id: str, msisdn: str, at: datetime) -> bool:
        """Record an inbound message id; False when it was seen before (a replay)."""
        t = orm.channel_inbound
        seen = self.s.execute(select(t.c.message_id).where(t.c.channel == channel, t.c.message_id == message_id)).first()
        if seen is not None:
            return False
        try:
            with self.s.begin_nested():
                self.s.execute(t.insert().values(channel=channel, message_id=message_id, msisdn=msisdn, received_at=at))
        except IntegrityError:
            return False  # the same id raced in through another worker
        return True

    def inbound_count(self, channel: str, msisdn: str, since: datetime) -> int:
        t = orm.channel_inbound
        return self.s.execute(select(func.count()).select_from(t).where(
            t.c.channel == channel, t.c.msisdn == msisdn, t.c.received_at > since)).scalar_one()

    def conversation(self, key: str) -> dict | None:
        t = orm.channel_conversations
        row = self.s.execute(select(t).where(t.c.key == key)).mappings().first()
        return dict(row) if row else None

    def save_conversation(self, key: str, channel: str, msisdn: str, lang: str, state: dict, at: datetime) -> None:
        t = orm.channel_conversations
        values = dict(channel=channel, msisdn=msisdn, lang=lang, state=state, updated_at=at)
        done = self.s.execute(update(t).where(t.c.key == key).values(**values))
        if done.rowcount == 0:
            self.s.execute(t.insert().values(key=key, **values))

    def forget_before(self, at: datetime, inbound_days: int = 30) -> int:
        """Purge stale conversations and old inbound ids (a scheduled duty may call it)."""
        n = self.s.execute(delete(orm.channel_conversations).where(orm.channel_conversations.c.updated_at < at)).rowcount
        self.s.execute(delete(orm.channel_inbound).where(
            orm.channel_inbound.c.received_at < at - timedelta(days=inbound_days)))
        return n
