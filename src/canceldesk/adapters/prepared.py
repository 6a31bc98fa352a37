"""The statements every API call runs, built once (with bind parameters) instead of on every call.

Building `select(...).where(col == value)` anew costs more than running it: the expression is put
together from scratch, then its cache key is computed to find the compiled SQL. A statement object
kept and run again with new parameters memoizes that key, so only the parameters change. Measured
on the hot path (token look-up, the pre-check's reads, the request's look-ups): ~25-30 µs per
statement instead of ~100.

Builders are cached functions, not module constants: an ORM statement needs the mappers
(orm.start_mappers), which bootstrap starts after import.
"""
from __future__ import annotations

from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import lazyload

from canceldesk.domain.lifecycle import OPEN, Request
from canceldesk.domain.model import Product, Subscription

from . import orm


@cache
def session_by_hash():
    return select(orm.sessions).where(orm.sessions.c.token_hash == bindparam("token_hash"))


@cache
def subscriptions_with_products():
    s, p = orm.subscriptions, orm.products
    # products.code is the subscriptions' foreign key: the inner join drops no subscription
    return (select(Subscription, Product).join(p, p.c.code == s.c.product_code)
            .where(s.c.msisdn == bindparam("msisdn")).order_by(s.c.id))


@cache
def open_requests_on_line():
    r = orm.requests
    return (select(Request).where(r.c.msisdn == bindparam("msisdn"), r.c.status.in_(sorted(str(s) for s in OPEN)))
            .options(lazyload(Request.timeline)))


@cache
def request_by_tracking_no():
    return select(Request).where(orm.requests.c.tracking_no == bindparam("tracking_no"))


@cache
def request_id_by_idempotency():
    r = orm.requests
    return select(r.c.id).where(r.c.requested_by == bindparam("requested_by"), r.c.idempotency_key == bindparam("key"))


@cache
def request_by_idempotency():
    r = orm.requests
    return select(Request).where(r.c.requested_by == bindparam("requested_by"), r.c.idempotency_key == bindparam("key"))


@cache
def outbox_insert_new(dialect: str):
    """One message unless its dedup key is already there: INSERT … ON CONFLICT (dedup_key) DO NOTHING
    (SQLite and PostgreSQL alike), one statement where a look-up and an insert were two."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(orm.outbox).on_conflict_do_nothing(index_elements=["dedup_key"])


@cache
def audit_head(head_id: int):
    return select(orm.audit_head).where(orm.audit_head.c.id == head_id)


@cache
def audit_lock():
    return select(orm.func_advisory_lock())


@cache
def audit_insert():
    return orm.audit_log.insert()


@cache
def audit_head_update(head_id: int):
    h = orm.audit_head
    return update(h).where(h.c.id == head_id).values(seq=bindparam("h_seq"), hash=bindparam("h_hash"),
                                                      key_id=bindparam("h_key_id"), mac=bindparam("h_mac"))


@cache
def request_insert():
    return orm.requests.insert()


@cache
def request_events_insert():
    return orm.request_events.insert()
