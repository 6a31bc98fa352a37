"""Persistence for the assistant's conversations, usage facts and save offers (tables of migration 0010)."""
from __future__ import annotations

from sqlalchemy import func, insert, select, update

from . import orm

T = orm.assistant_conversations


def conversation(session, conversation_id: str) -> dict | None:
    row = session.execute(select(T).where(T.c.id == conversation_id)).mappings().first()
    return dict(row) if row else None


def save_conversation(session, *, id: str, customer_id: str, channel: str, state: dict, now, new: bool) -> None:
    if new:
        session.execute(insert(T).values(id=id, customer_id=customer_id, channel=channel, state=state, turns=1,
                                         created_at=now, updated_at=now))
    else:
        session.execute(update(T).where(T.c.id == id).values(state=state, turns=T.c.turns + 1, updated_at=now))


def usage_of(session, subscription_ids: list[str]) -> dict[str, dict]:
    if not subscription_ids:
        return {}
    U = orm.subscription_usage
    rows = session.execute(select(U).where(U.c.subscription_id.in_(subscription_ids))).mappings()
    return {r["subscription_id"]: dict(r) for r in rows}


def upsert_usage(session, subscription_id: str, facts: dict) -> None:
    U = orm.subscription_usage
    exists = session.execute(select(U.c.subscription_id).where(U.c.subscription_id == subscription_id)).first()
    if exists:
        session.execute(update(U).where(U.c.subscription_id == subscription_id).values(**facts))
    else:
        session.execute(insert(U).values(subscription_id=subscription_id, **facts))


def add_offer(session, **values) -> None:
    session.execute(insert(orm.save_offers).values(**values))


def offer(session, offer_id: str) -> dict | None:
    row = session.execute(select(orm.save_offers).where(orm.save_offers.c.id == offer_id)).mappings().first()
    return dict(row) if row else None


def offers_for(session, customer_id: str, subscription_id: str) -> list[dict]:
    S = orm.save_offers
    q = select(S).where(S.c.customer_id == customer_id, S.c.subscription_id == subscription_id).order_by(S.c.created_at)
    return [dict(r) for r in session.execute(q).mappings()]


def decide_offer(session, offer_id: str, status: str, now) -> int:
    S = orm.save_offers
    return session.execute(update(S).where(S.c.id == offer_id, S.c.status == "offered")
                           .values(status=status, decided_at=now)).rowcount


def offer_counts(session, since=None) -> dict[str, int]:
    S = orm.save_offers
    q = select(S.c.status, func.count()).group_by(S.c.status)
    if since is not None:
        q = q.where(S.c.created_at >= since)
    counts = {"offered": 0, "accepted": 0, "declined": 0}
    for status, n in session.execute(q).all():
        counts[status] = n
    counts["made"] = sum(v for k, v in counts.items() if k in ("offered", "accepted", "declined"))
    return counts


def requests_between(session, start, end) -> list[dict]:
    r = orm.requests.c
    q = select(r.kind, r.channel, r.status, r.reason, r.impact, r.created_at, r.completed_at).where(
        r.created_at >= start, r.created_at < end)
    return [dict(row) for row in session.execute(q).mappings()]


def charged_renewals(session, start, end) -> list[dict]:
    R = orm.renewals
    q = (select(R.c.key, R.c.subscription_id, R.c.msisdn, R.c.period_end, R.c.amount, R.c.currency, R.c.charged_at)
         .where(R.c.status == "charged", R.c.charged_at >= start, R.c.charged_at < end)
         .order_by(R.c.subscription_id, R.c.period_end))
    return [dict(row) for row in session.execute(q).mappings()]


def reminders_by_key(session, keys: list[str]) -> dict[str, dict]:
    o = orm.outbox.c
    out: dict[str, dict] = {}
    for i in range(0, len(keys), 500):
        q = select(o.dedup_key, o.created_at, o.sent_at).where(o.dedup_key.in_(keys[i:i + 500]))
        for row in session.execute(q).mappings():
            out[row["dedup_key"]] = dict(row)
    return out


class SqlInsightStore:
    """service_layer/ports.py: InsightStore — the functions above, on the unit of work's session."""

    def __init__(self, session):
        self.s = session

    def conversation(self, conversation_id: str) -> dict | None:
        return conversation(self.s, conversation_id)

    def save_conversation(self, *, id: str, customer_id: str, channel: str, state: dict, now, new: bool) -> None:
        save_conversation(self.s, id=id, customer_id=customer_id, channel=channel, state=state, now=now, new=new)

    def usage_of(self, subscription_ids: list[str]) -> dict[str, dict]:
        return usage_of(self.s, subscription_ids)

    def upsert_usage(self, subscription_id: str, facts: dict) -> None:
        upsert_usage(self.s, subscription_id, facts)

    def add_offer(self, **values) -> None:
        add_offer(self.s, **values)

    def offer(self, offer_id: str) -> dict | None:
        return offer(self.s, offer_id)

    def offers_for(self, customer_id: str, subscription_id: str) -> list[dict]:
        return offers_for(self.s, customer_id, subscription_id)

    def decide_offer(self, offer_id: str, status: str, now) -> int:
        return decide_offer(self.s, offer_id, status, now)

    def offer_counts(self, since=None) -> dict[str, int]:
        return offer_counts(self.s, since)
