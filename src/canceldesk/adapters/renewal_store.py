"""Auto-renewal's storage (service_layer/ports.py: RenewalStore), in SQL: which subscriptions are
due, the renewals table (one row per subscription and period, keyed) and its own ledger."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from canceldesk.domain.model import Line, LineStatus, Product, Subscription, SubscriptionStatus

from . import orm

S, RN = orm.subscriptions, orm.renewals


class SqlRenewalStore:
    def __init__(self, session: Session):
        self.s = session

    def to_remind(self, first_day: date, last_day: date, after_id: str, limit: int) -> list[tuple[Subscription, Product]]:
        """Active auto-renewing subscriptions (not postponed) on active lines whose period ends after
        `first_day` and by `last_day`, by id after `after_id`."""
        q = (select(Subscription, Product)
             .join(Product, orm.products.c.code == S.c.product_code)
             .join(Line, orm.lines.c.msisdn == S.c.msisdn)
             .where(S.c.status == SubscriptionStatus.ACTIVE, S.c.auto_renew.is_(True),
                    S.c.renewal_postponed.is_(False), orm.lines.c.status == LineStatus.ACTIVE,
                    S.c.period_end > first_day, S.c.period_end <= last_day, S.c.id > after_id)
             .order_by(S.c.id).limit(limit))
        return [(sub, product) for sub, product in self.s.execute(q).all()]

    def period_ended(self, statuses: list[str], today: date, limit: int) -> list[str]:
        return list(self.s.scalars(select(S.c.id).where(S.c.status.in_(statuses), S.c.period_end <= today)
                                   .order_by(S.c.period_end).limit(limit)))

    def subscription_for_update(self, sub_id: str) -> Subscription | None:
        return self.s.get(Subscription, sub_id, with_for_update=True)

    def request_open_on(self, targets: list[str], statuses: tuple[str, ...]) -> bool:
        r = orm.requests.c
        return self.s.execute(select(r.id).where(r.open_target.in_(targets), r.status.in_(statuses))
                              .limit(1)).first() is not None

    def sent_at(self, dedup_keys: list[str]) -> list[datetime]:
        """When the messages with these keys were delivered (those not delivered are left out)."""
        o = orm.outbox.c
        return list(self.s.scalars(select(o.sent_at).where(o.dedup_key.in_(dedup_keys), o.sent_at.is_not(None))))

    def renewal(self, key: str) -> dict | None:
        row = self.s.execute(select(RN).where(RN.c.key == key)).mappings().first()
        return None if row is None else dict(row)

    def add_renewal(self, **values) -> None:
        self.s.execute(insert(RN).values(**values))

    def count_attempt(self, key: str) -> None:
        self.s.execute(update(RN).where(RN.c.key == key).values(attempts=RN.c.attempts + 1))

    def update_renewal(self, key: str, **values) -> None:
        self.s.execute(update(RN).where(RN.c.key == key).values(**values))

    def add_ledger(self, rows: list[dict]) -> None:
        self.s.execute(insert(orm.renewal_ledger), rows)
