"""SQL for TMF622 product orders: an order is a batch (batches + batch_items) plus its TMF fields."""
from __future__ import annotations

from sqlalchemy import bindparam, case, func, or_, select, text, update

from . import orm, planner_stats
from .bulk import among, insert_rows

IN_CHUNK = 5000


def owned_lines(session, enterprise_id: str, msisdns: list[str]) -> set[str]:
    t = orm.lines.c
    out: set[str] = set()
    for i in range(0, len(msisdns), IN_CHUNK):
        out.update(session.scalars(select(t.msisdn).where(among(session, t.msisdn, msisdns[i:i + IN_CHUNK]),
                                                          t.customer_id == enterprise_id)))
    return out


def owned_subscriptions(session, enterprise_id: str, ids: list[str]) -> dict[str, str]:
    """subscription id -> its line, for the enterprise's own subscriptions among `ids`."""
    s, ln = orm.subscriptions.c, orm.lines.c
    out: dict[str, str] = {}
    for i in range(0, len(ids), IN_CHUNK):
        out.update(session.execute(select(s.id, s.msisdn).join(orm.lines, ln.msisdn == s.msisdn).where(
            among(session, s.id, ids[i:i + IN_CHUNK]), ln.customer_id == enterprise_id)).all())
    return out


def add_order(session, batch: dict, order: dict, items: list[dict]) -> None:
    session.execute(orm.batches.insert().values(**batch))
    session.execute(orm.product_orders.insert().values(**order))
    for i in range(0, len(items), 5000):
        add_items(session, items[i:i + 5000])


def start_order(session, batch: dict) -> None:
    """The batch row an order's items hang on (its size and kind are set by finish_order)."""
    session.execute(orm.batches.insert().values(**batch))


def add_items(session, items: list[dict]) -> None:
    """A chunk of an order's items: one COPY on PostgreSQL (a multi-row INSERT of 5,000 rows was
    re-parsed by psycopg for every chunk), an executemany elsewhere."""
    insert_rows(session, orm.batch_items, items)


def finish_order(session, order: dict, size: int, kind: str, reason: str | None = None) -> None:
    session.execute(update(orm.batches).where(orm.batches.c.id == order["id"]).values(size=size, kind=kind,
                                                                                       reason=reason))
    session.execute(orm.product_orders.insert().values(**order))


def first_repeated_ref(session, order_id: str) -> tuple[str, int] | None:
    """The item id used twice that repeats earliest in the order: (id, position of its 2nd use)."""
    it = orm.batch_items.c
    refs = list(session.scalars(select(it.item_ref).where(it.batch_id == order_id).group_by(it.item_ref)
                                .having(func.count() > 1).limit(1000)))
    if not refs:
        return None
    best = None
    for ref in refs:
        second = session.scalars(select(it.position).where(it.batch_id == order_id, it.item_ref == ref)
                                 .order_by(it.position).offset(1).limit(1)).first()
        if best is None or second < best[1]:
            best = (ref, second)
    return best


def item_rows(session, order_id: str, after: int, limit: int, refused_only: bool = False) -> list[dict]:
    """Items as they were accepted (no request columns), by position after `after`, at most `limit`."""
    it = orm.batch_items.c
    where = [it.batch_id == order_id, it.position > after]
    if refused_only:
        where.append(it.error_code.is_not(None))
    q = (select(it.position, it.item_ref, it.action, it.msisdn, it.subscription_id, it.error_code, it.error_message)
         .where(*where).order_by(it.position).limit(limit))
    return [dict(r) for r in session.execute(q).mappings()]


def order(session, order_id: str) -> dict | None:
    row = session.execute(select(orm.product_orders, orm.batches.c.size, orm.batches.c.created_by)
                          .join(orm.batches, orm.batches.c.id == orm.product_orders.c.id)
                          .where(orm.product_orders.c.id == order_id)).mappings().first()
    return dict(row) if row else None


def orders(session, enterprise_id: str, filters: dict, offset: int, limit: int) -> tuple[int, list[dict]]:
    t = orm.product_orders.c
    where = [t.enterprise_id == enterprise_id] + [getattr(t, k) == v for k, v in filters.items()]
    total = session.execute(select(func.count()).select_from(orm.product_orders).where(*where)).scalar_one()
    rows = session.execute(select(orm.product_orders, orm.batches.c.size, orm.batches.c.created_by)
                           .join(orm.batches, orm.batches.c.id == t.id).where(*where)
                           .order_by(t.order_date.desc(), t.id).offset(offset).limit(limit)).mappings().all()
    return total, [dict(r) for r in rows]


def items(session, order_id: str, limit: int | None = None) -> list[dict]:
    """The order's items in position order; with `limit`, at most that many, the items that did not
    end as asked (refused, blocked, failed, withdrawn) first."""
    it, rq = orm.batch_items.c, orm.requests.c
    q = (select(it.id, it.position, it.item_ref, it.action, it.item_kind, it.msisdn, it.subscription_id, it.tracking_no,
                it.error_code, it.error_message, it.blockers, rq.status, rq.reject_codes)
         .select_from(orm.batch_items.outerjoin(orm.requests, rq.id == it.request_id))
         .where(it.batch_id == order_id).order_by(it.position))
    if limit is not None:
        unhappy = or_(it.error_code.is_not(None), rq.status.in_(("rejected", "failed", "withdrawn")))
        q = q.order_by(None).order_by(case((unhappy, 0), else_=1), it.position).limit(limit)
    return [dict(r) for r in session.execute(q).mappings()]


def state_counts(session, order_id: str) -> dict[str, int]:
    """How many items are in each request status ('' not yet a request, 'error:<code>' refused)."""
    it, rq = orm.batch_items.c, orm.requests.c
    rows = session.execute(select(rq.status, it.error_code, func.count())
                           .select_from(orm.batch_items.outerjoin(orm.requests, rq.id == it.request_id))
                           .where(it.batch_id == order_id).group_by(rq.status, it.error_code)).all()
    out: dict[str, int] = {}
    for status, error, n in rows:
        key = status or (f"error:{error}" if error else "")
        out[key] = out.get(key, 0) + n
    return out


def any_waiting(session, order_id: str, moving: tuple[str, ...]) -> bool:
    """Whether an item is still on its way: its request in one of the `moving` statuses, or no request
    yet (and not refused). Two probes that stop at the first row — what the watcher of a running order
    asks every second, instead of counting every item by status (a join over the whole order)."""
    it, rq = orm.batch_items.c, orm.requests.c
    if session.execute(select(rq.id).where(rq.batch_id == order_id, rq.status.in_(moving)).limit(1)).first():
        return True
    return session.execute(select(it.id).where(it.batch_id == order_id, it.request_id.is_(None),
                                               it.error_code.is_(None)).limit(1)).first() is not None


def rejected_without_blockers(session, order_id: str, limit: int = 200) -> list[dict]:
    it, rq = orm.batch_items.c, orm.requests.c
    rows = session.execute(select(it.id, it.msisdn, it.item_kind, it.subscription_id, rq.reject_codes)
                           .join(orm.requests, rq.id == it.request_id)
                           .where(it.batch_id == order_id, rq.status == "rejected", it.eligible.is_(None))
                           .limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def set_item(session, item_id: int, **values) -> None:
    session.execute(update(orm.batch_items).where(orm.batch_items.c.id == item_id).values(**values))


def cancel_unsubmitted(session, order_id: str) -> int:
    it = orm.batch_items.c
    res = session.execute(update(orm.batch_items).where(it.batch_id == order_id, it.request_id.is_(None),
                                                        it.error_code.is_(None))
                          .values(error_code="CANCELLED", error_message="cancelled by cancelProductOrder"))
    return res.rowcount


def withdrawable(session, order_id: str) -> list[str]:
    it, rq = orm.batch_items.c, orm.requests.c
    return list(session.scalars(select(rq.tracking_no).join(orm.requests, rq.id == it.request_id).where(
        it.batch_id == order_id, rq.status.in_(("submitted", "checked", "awaiting_confirmation", "in_review")))))


def move_state(session, order_id: str, old: str, new: str, at, final: bool) -> bool:
    """Compare-and-set: only one refresher announces a state change."""
    t = orm.product_orders.c
    values = {"state": new, "updated_at": at}
    if final:
        values["completion_date"] = at
    res = session.execute(update(orm.product_orders).where(t.id == order_id, t.state == old).values(**values))
    return res.rowcount == 1


def touch(session, order_id: str, at, **values) -> None:
    session.execute(update(orm.product_orders).where(orm.product_orders.c.id == order_id)
                    .values(updated_at=at, **values))


def open_orders(session, before) -> list[str]:
    """Orders not final whose last change is older than `before` (their runner may have stopped)."""
    t = orm.product_orders.c
    return list(session.scalars(select(t.id).where(t.state.in_(("acknowledged", "inProgress")),
                                                   t.updated_at < before).limit(100)))


def unsubmitted_positions(session, order_id: str) -> list[int]:
    it = orm.batch_items.c
    return list(session.scalars(select(it.position).where(it.batch_id == order_id, it.request_id.is_(None),
                                                          it.error_code.is_(None)).order_by(it.position)))


def add_cancel(session, **row) -> None:
    session.execute(orm.product_order_cancels.insert().values(**row))


def cancel(session, cancel_id: str) -> dict | None:
    row = session.execute(select(orm.product_order_cancels).where(
        orm.product_order_cancels.c.id == cancel_id)).mappings().first()
    return dict(row) if row else None


def cancels(session, enterprise_id: str, offset: int, limit: int) -> tuple[int, list[dict]]:
    t = orm.product_order_cancels.c
    total = session.execute(select(func.count()).select_from(orm.product_order_cancels)
                            .where(t.enterprise_id == enterprise_id)).scalar_one()
    rows = session.execute(select(orm.product_order_cancels).where(t.enterprise_id == enterprise_id)
                           .order_by(t.created_at.desc(), t.id).offset(offset).limit(limit)).mappings().all()
    return total, [dict(r) for r in rows]


def set_item_outcomes(session, outcomes: list[dict]) -> None:
    """Each item's request (request_id, tracking_no) or error (error_code, error_message): on PostgreSQL one
    UPDATE … FROM unnest(arrays) for the whole chunk (an executemany was one pipelined statement per
    item), an executemany elsewhere."""
    if not outcomes:
        return
    t = orm.batch_items
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(
            "UPDATE batch_items AS b SET request_id = v.r, tracking_no = v.t, error_code = v.c, error_message = v.m "
            "FROM unnest(CAST(:ids AS integer[]), CAST(:r AS varchar[]), CAST(:t AS varchar[]), CAST(:c AS varchar[]), "
            "CAST(:m AS text[])) AS v(id, r, t, c, m) WHERE b.id = v.id"),
            {"ids": [o["id"] for o in outcomes], "r": [o.get("request_id") for o in outcomes],
             "t": [o.get("tracking_no") for o in outcomes], "c": [o.get("error_code") for o in outcomes],
             "m": [o.get("error_message") for o in outcomes]})
        return
    rows = [{"b_id": o["id"], "b_request_id": o.get("request_id"), "b_tracking_no": o.get("tracking_no"),
             "b_error_code": o.get("error_code"), "b_error_message": o.get("error_message")} for o in outcomes]
    session.execute(update(t).where(t.c.id == bindparam("b_id")).values(
        request_id=bindparam("b_request_id"), tracking_no=bindparam("b_tracking_no"),
        error_code=bindparam("b_error_code"), error_message=bindparam("b_error_message")), rows)


class SqlOrderStore:
    """service_layer/ports.py: OrderStore — the functions above, bound to one unit of work's session."""

    def __init__(self, session):
        self.session = session

    def owned_lines(self, enterprise_id, msisdns):
        return owned_lines(self.session, enterprise_id, msisdns)

    def owned_subscriptions(self, enterprise_id, ids):
        return owned_subscriptions(self.session, enterprise_id, ids)

    def add_order(self, batch, order, items):
        add_order(self.session, batch, order, items)

    def start_order(self, batch):
        start_order(self.session, batch)

    def add_items(self, items):
        add_items(self.session, items)

    def finish_order(self, order, size, kind, reason=None):
        finish_order(self.session, order, size, kind, reason)

    def first_repeated_ref(self, order_id):
        return first_repeated_ref(self.session, order_id)

    def item_rows(self, order_id, after, limit, refused_only=False):
        return item_rows(self.session, order_id, after, limit, refused_only)

    def order(self, order_id):
        return order(self.session, order_id)

    def orders(self, enterprise_id, filters, offset, limit):
        return orders(self.session, enterprise_id, filters, offset, limit)

    def items(self, order_id, limit=None):
        return items(self.session, order_id, limit)

    def state_counts(self, order_id):
        return state_counts(self.session, order_id)

    def any_waiting(self, order_id, moving):
        return any_waiting(self.session, order_id, tuple(moving))

    def keep_statistics(self):
        return planner_stats.refresh(self.session)

    def rejected_without_blockers(self, order_id, limit=200):
        return rejected_without_blockers(self.session, order_id, limit)

    def set_item(self, item_id, **values):
        set_item(self.session, item_id, **values)

    def cancel_unsubmitted(self, order_id):
        return cancel_unsubmitted(self.session, order_id)

    def withdrawable(self, order_id):
        return withdrawable(self.session, order_id)

    def move_state(self, order_id, old, new, at, final):
        return move_state(self.session, order_id, old, new, at, final)

    def touch(self, order_id, at, **values):
        touch(self.session, order_id, at, **values)

    def open_orders(self, before):
        return open_orders(self.session, before)

    def unsubmitted_positions(self, order_id):
        return unsubmitted_positions(self.session, order_id)

    def add_cancel(self, **row):
        add_cancel(self.session, **row)

    def cancel(self, cancel_id):
        return cancel(self.session, cancel_id)

    def cancels(self, enterprise_id, offset, limit):
        return cancels(self.session, enterprise_id, offset, limit)

    def set_item_outcomes(self, outcomes):
        set_item_outcomes(self.session, outcomes)
