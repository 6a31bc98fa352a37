"""The statements of the engine's rounds (claim, lock, extend, read, finish), built once per dialect.

A round runs ~10 statements whatever its group's size; built anew each time, a statement is put together
from scratch (`bulk.among`'s array or json_each subquery included) and its cache key computed again before
the compiled SQL is found — at the groups of 1–3 requests a worker sees under a trickle, that was most of a
round's CPU. Built once, with the group's keys as one named parameter (`keys`, `bulk.among_bind`), a
statement is found in the compiled cache by its memoized key and only the parameters change. They are run
on the transaction's connection (`Session.connection()`): Core statements, which the session neither
flushes for nor changes. The values are given by `bulk.among_values(dialect, keys)`.
"""
from __future__ import annotations

from functools import cache

from sqlalchemy import Integer, bindparam, delete, select, update

from canceldesk.domain.lifecycle import Status

from . import orm
from .bulk import among_bind

L, E, R, T = orm.execution_leases, orm.escalations, orm.requests, orm.execution_steps
STEP_FIELDS = ("status", "attempts", "started_at", "finished_at", "error", "result")
# what a run that does not hold an executing request's lease may write on it (engine_store.relock_requests)
FINGERPRINT = ("status", "updated_at", "deadline_at", "completed_at", "failure", "open_target")


@cache
def due(dialect: str):
    """Executing requests no live run holds, up to :limit (PostgreSQL: FOR UPDATE OF requests SKIP LOCKED)."""
    live = select(L.c.request_id).where(L.c.request_id == R.c.id, L.c.lease_until > bindparam("now")).exists()
    q = select(R.c.id).where(R.c.status == Status.EXECUTING, ~live).limit(bindparam("limit", type_=Integer))
    return q.with_for_update(of=R, skip_locked=True) if dialect == "postgresql" else q


@cache
def held_leases(dialect: str):
    return select(L.c.request_id, L.c.owner, L.c.resumes).where(among_bind(L.c.request_id, dialect))


@cache
def owned_leases(dialect: str):
    """The leases of :keys that :b_owner holds, each with whether it ends before :b_fresh (then it is extended)."""
    stale = (L.c.lease_until < bindparam("b_fresh", type_=L.c.lease_until.type)).label("stale")
    return select(L.c.request_id, stale).where(among_bind(L.c.request_id, dialect), L.c.owner == bindparam("b_owner"))


@cache
def extend_leases(dialect: str):
    return (update(L).where(among_bind(L.c.request_id, dialect), L.c.owner == bindparam("b_owner"))
            .values(lease_until=bindparam("b_until"), updated_at=bindparam("b_now")).returning(L.c.request_id))


@cache
def park_lease():
    return update(L).where(L.c.request_id == bindparam("rid")).values(
        owner=None, lease_until=bindparam("until"), updated_at=bindparam("b_now"))


@cache
def drop_leases(dialect: str):
    return delete(L).where(among_bind(L.c.request_id, dialect))


@cache
def resolve_escalations(dialect: str):
    return (update(E).where(among_bind(E.c.request_id, dialect), E.c.resolved_at.is_(None))
            .values(resolved_at=bindparam("b_now")))


@cache
def locked_requests(dialect: str):
    """Whole request rows, in id order, row-locked (PostgreSQL; SQLite holds the write lock)."""
    return select(R).where(among_bind(R.c.id, dialect)).order_by(R.c.id).with_for_update()


@cache
def relock_requests(dialect: str):
    return (select(R.c.id, *[R.c[n] for n in FINGERPRINT]).where(among_bind(R.c.id, dialect))
            .order_by(R.c.id).with_for_update())


@cache
def steps_of(dialect: str):
    return select(T.c.request_id, T.c.step, *[T.c[f] for f in STEP_FIELDS]).where(among_bind(T.c.request_id, dialect))


@cache
def subscriptions_of(dialect: str):
    s = orm.subscriptions
    return select(s).where(among_bind(s.c.msisdn, dialect)).order_by(s.c.id)


@cache
def products(dialect: str):
    p = orm.products
    return select(p).where(among_bind(p.c.code, dialect))


@cache
def receipt_codes(dialect: str):
    r = orm.receipts
    return select(r.c.request_id, r.c.verification_code).where(among_bind(r.c.request_id, dialect))


@cache
def payment_keys(dialect: str):
    p = orm.payments
    return select(p.c.idempotency_key).where(among_bind(p.c.request_id, dialect))


@cache
def outbox_keys(dialect: str):
    """Which of a group's notices' dedup keys are already in the outbox (Repository.write_buffered)."""
    o = orm.outbox
    return select(o.c.dedup_key).where(among_bind(o.c.dedup_key, dialect))
