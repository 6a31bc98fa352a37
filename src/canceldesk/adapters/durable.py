"""Queries behind durable execution: execution leases, escalations, scheduled-duty claims and the
outbox delivery claim. Like the repositories, these run in the caller's transaction and never
commit; the service layer does.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Integer, any_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from canceldesk.domain.lifecycle import OPEN, Status

from . import engine_statements as stmts
from . import orm
from .bulk import among, among_values, insert_rows

L, E, D, O, R = orm.execution_leases, orm.escalations, orm.duty_runs, orm.outbox, orm.requests


# leases: who is running a request, and until when we trust them to --------------------------------
def claim_lease(s: Session, request_id: str, owner: str, now: datetime, seconds: int) -> bool:
    """Take (or extend) the lease. False if another live run holds it. Call with the request row
    locked (PostgreSQL: SELECT … FOR UPDATE; SQLite: BEGIN IMMEDIATE) so the check is atomic."""
    row = s.execute(select(L.c.owner, L.c.lease_until).where(L.c.request_id == request_id)).first()
    until = now + timedelta(seconds=seconds)
    if row is None:
        s.execute(insert(L).values(request_id=request_id, owner=owner, lease_until=until, resumes=0, updated_at=now))
        return True
    if row.owner not in (None, owner) and row.lease_until > now:
        return False
    s.execute(update(L).where(L.c.request_id == request_id).values(owner=owner, lease_until=until, updated_at=now))
    return True


def park_lease(s: Session, request_id: str, until: datetime, now: datetime, resumed: bool = False) -> int:
    """No run holds the request until `until` (it waits in the queue or for a retry); returns how
    many times the sweeper has resumed it."""
    row = s.execute(select(L.c.resumes).where(L.c.request_id == request_id)).first()
    resumes = (row.resumes if row else 0) + (1 if resumed else 0)
    if row is None:
        s.execute(insert(L).values(request_id=request_id, owner=None, lease_until=until, resumes=resumes, updated_at=now))
    else:
        s.execute(update(L).where(L.c.request_id == request_id)
                  .values(owner=None, lease_until=until, resumes=resumes, updated_at=now))
    return resumes


def drop_lease(s: Session, request_id: str) -> None:
    s.execute(L.delete().where(L.c.request_id == request_id))


def claim_due(s: Session, owner: str, now: datetime, seconds: int, limit: int) -> list[tuple[str, int]]:
    """Claim up to `limit` executing requests no live run holds (never leased, parked and due, or
    held by a run whose lease lapsed) for `owner`, for `seconds`. Returns (id, resumes) pairs.

    PostgreSQL: `FOR UPDATE OF requests SKIP LOCKED`, so concurrent claimers take disjoint sets
    without waiting on each other. SQLite: the transaction holds the write lock from its first
    statement (BEGIN IMMEDIATE), so claims are serialised there."""
    conn = s.connection()  # Core statements built once (engine_statements), on the transaction's connection
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(_CLAIM_DUE_PLAN)
    ids = [r[0] for r in conn.execute(stmts.due(dialect), {"now": now, "limit": limit})]
    if not ids:
        return []
    held = {r.request_id: r for r in conn.execute(stmts.held_leases(dialect), {"keys": among_values(dialect, ids)})}
    until = now + timedelta(seconds=seconds)
    # PostgreSQL: a group's new leases in one COPY, not one pipelined INSERT per row
    insert_rows(s, L, [dict(request_id=i, owner=owner, lease_until=until, resumes=0, updated_at=now)
                       for i in ids if i not in held])
    out = [(i, 0) for i in ids if i not in held]
    for died in (False, True):  # a lapsed lease with an owner: that run died (counted like the sweeper does)
        group = [i for i, r in held.items() if (r.owner is not None) == died]
        if group:
            s.execute(update(L).where(among(s, L.c.request_id, group))
                      .values(owner=owner, lease_until=until, updated_at=now, resumes=L.c.resumes + int(died)))
            out += [(i, held[i].resumes + int(died)) for i in group]
    return out


# The due requests are found through ix_requests_status (only executing ones) and hashed against the live
# leases. Left to itself the planner walks pk_requests in id order (a merge anti join with the leases),
# reading every request — completed ones too — until it has found `limit` executing ones: halfway through
# draining a backlog of 100,000 that is 50,000 rows per claim (EXPLAIN ANALYZE: 118-149 ms, 89,000
# buffers; 0.8 ms, 245 buffers through the status index). Set for the claim's transaction only.
_CLAIM_DUE_PLAN = text("SELECT set_config('enable_mergejoin', 'off', true), set_config('enable_seqscan', 'off', true)")


def extend_leases(s: Session, ids: list[str], owner: str, now: datetime, seconds: int) -> set[str]:
    """Extend `owner`'s leases on `ids` to `seconds` from now; returns the ids it still holds.

    A lease with more than three quarters of its term left is only read, not written: a group's
    rounds follow each other within a second or two, so rewriting every lease of the group each round
    (a new row version and index entries for each) bought nothing — the lease is still that far from
    lapsing, and the heartbeat extends a slow group's leases every quarter term. A lease still in its
    term cannot change hands meanwhile: a claim (and the sweeper) takes only lapsed leases, and the
    group's requests are row-locked. A lease with less left is extended by an UPDATE that re-checks
    the owner under the row lock, as before (one statement in all when none is)."""
    if not ids:
        return set()
    conn = s.connection()
    dialect = conn.dialect.name
    rows = conn.execute(stmts.owned_leases(dialect), {"keys": among_values(dialect, ids), "b_owner": owner,
                                                      "b_fresh": now + timedelta(seconds=seconds * 0.75)}).all()
    held = {r[0] for r in rows if not r[1]}
    stale = [r[0] for r in rows if r[1]]
    if stale:
        res = conn.execute(stmts.extend_leases(dialect), {"keys": among_values(dialect, stale), "b_owner": owner,
                                                          "b_until": now + timedelta(seconds=seconds), "b_now": now})
        held |= {r[0] for r in res}
    return held


def park_leases(s: Session, until_by_id: dict[str, datetime], now: datetime) -> None:
    """Let go of held requests until their retry is due (an executemany of one UPDATE)."""
    if until_by_id:
        s.connection().execute(stmts.park_lease(), [{"rid": k, "until": v, "b_now": now} for k, v in until_by_id.items()])


def drop_leases(s: Session, ids: list[str]) -> None:
    if ids:
        conn = s.connection()
        conn.execute(stmts.drop_leases(conn.dialect.name), {"keys": among_values(conn.dialect.name, ids)})


def finish_runs(s: Session, ids: list[str], now: datetime) -> None:
    """Completed requests: their escalations resolved, their leases gone (two statements for all)."""
    if ids:
        conn = s.connection()
        dialect = conn.dialect.name
        keys = among_values(dialect, ids)
        conn.execute(stmts.resolve_escalations(dialect), {"keys": keys, "b_now": now})
        conn.execute(stmts.drop_leases(dialect), {"keys": keys})


def stalled_requests(s: Session, now: datetime, queued_before: datetime, limit: int = 1000) -> list[str]:
    """Executing requests nobody is advancing: a lapsed lease, or no lease and queued long ago."""
    lapsed = (select(R.c.id).join(L, L.c.request_id == R.c.id)
              .where(R.c.status == Status.EXECUTING, L.c.lease_until < now).limit(limit))
    never = (select(R.c.id).outerjoin(L, L.c.request_id == R.c.id)
             .where(R.c.status == Status.EXECUTING, L.c.request_id.is_(None), R.c.updated_at < queued_before)
             .limit(limit))
    return list(s.scalars(lapsed)) + list(s.scalars(never))


# escalations ------------------------------------------------------------------------------------
def add_escalation(s: Session, *, request_id: str, reason: str, step: str | None, detail: str | None,
                   expected_by: datetime, now: datetime) -> int:
    level = (s.execute(select(func.max(E.c.level)).where(E.c.request_id == request_id, E.c.reason == reason))
             .scalar() or 0) + 1
    s.execute(insert(E).values(request_id=request_id, reason=reason, level=level, step=step,
                               detail=(detail or "")[:500] or None, expected_by=expected_by, created_at=now))
    return level


def resolve_escalations(s: Session, request_id: str, now: datetime) -> None:
    s.execute(update(E).where(E.c.request_id == request_id, E.c.resolved_at.is_(None)).values(resolved_at=now))


def open_escalations(s: Session, limit: int = 500) -> list[dict]:
    """Unresolved escalations of requests still open, the oldest request first (one row each:
    its latest escalation)."""
    latest = (select(E.c.request_id, func.max(E.c.id).label("id")).where(E.c.resolved_at.is_(None))
              .group_by(E.c.request_id).subquery())
    q = (select(E, R.c.tracking_no, R.c.created_at.label("request_created_at"), R.c.status)
         .join(latest, latest.c.id == E.c.id).join(R, R.c.id == E.c.request_id)
         .where(R.c.status.in_([str(x) for x in OPEN]))
         .order_by(R.c.created_at, R.c.id).limit(limit))
    return [dict(r) for r in s.execute(q).mappings()]


# scheduled duties: one run per interval across every worker process ------------------------------
def claim_duty(s: Session, name: str, now: datetime, every: timedelta) -> bool:
    row = s.execute(select(D.c.started_at).where(D.c.name == name)).first()
    if row is None:
        s.execute(insert(D).values(name=name, started_at=now))
        return True
    res = s.execute(update(D).where(D.c.name == name, D.c.started_at <= now - every).values(started_at=now))
    return res.rowcount == 1


def finish_duty(s: Session, name: str, now: datetime, outcome: dict) -> None:
    res = s.execute(update(D).where(D.c.name == name).values(finished_at=now, outcome=outcome))
    if res.rowcount == 0:  # run directly (a worker's start-up sweep) before any tick claimed it
        s.execute(insert(D).values(name=name, started_at=now, finished_at=now, outcome=outcome))


# outbox delivery ----------------------------------------------------------------------------------
def relaxed_commit(s: Session) -> None:
    """Delivery bookkeeping is idempotent (a lost claim or `sent` mark only causes a re-send, which
    the gateway de-duplicates by key), so on PostgreSQL its commits need not wait for the WAL
    flush. Requests, steps, ledgers and payments always commit durably."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(_RELAXED)


_RELAXED = text("SET LOCAL synchronous_commit TO OFF")


def claim_messages(s: Session, now: datetime, hold: timedelta, limit: int,
                   events: tuple[str, ...] | None = None, exclude: tuple[str, ...] = ()) -> list:
    """Claim pending messages for `hold` (a deliverer that dies lets them go again after it).
    One UPDATE … RETURNING: PostgreSQL re-checks the predicate on rows a racing deliverer locked,
    SQLite runs it under its write lock, so a message is claimed by one deliverer at a time.
    `events` limits the claim to those events (the priority lane); `exclude` keeps them out (bulk).

    PostgreSQL: the pending messages are read by walking `ix_outbox_pending` (sent_at, id) in order
    (ORDER BY sent_at, id — all NULL — is the index's order) and never by a bitmap scan. Sending a
    message moves its entry in that index, and the entries of sent messages stay behind until a
    vacuum: under load, tens of thousands of them, which a bitmap scan visits in the heap on every
    claim (~10 ms each, measured on 20,000 sent messages) while an index scan marks them dead as it
    passes and skips them from then on (~1.7 ms). The planner, whose statistics lag behind a busy
    outbox, would pick the bitmap scan."""
    if s.get_bind().dialect.name == "postgresql":  # one round trip for both settings of this transaction
        s.execute(_CLAIM_SETTINGS)
    stmt = _claim_statement(limit, events, tuple(exclude))
    return sorted(s.execute(stmt, {"now": now, "until": now + hold}).all(), key=lambda r: r.id)


_CLAIM_SETTINGS = text("SELECT set_config('synchronous_commit', 'off', true), set_config('enable_bitmapscan', 'off', true)")


@cache
def _claim_statement(limit: int, events: tuple[str, ...] | None, exclude: tuple[str, ...]):
    """The claim, built once per lane (bind parameters `now` and `until`): building the expression and
    its cache key anew on every claim cost more of the deliverer's CPU than the rest of the claim."""
    now = bindparam("now", type_=O.c.next_attempt_at.type)
    due = or_(O.c.next_attempt_at.is_(None), O.c.next_attempt_at <= now)
    which = [O.c.sent_at.is_(None), due]
    if events is not None:
        which.append(O.c.event.in_(events))
    if exclude:
        which.append(O.c.event.not_in(exclude))
    pending = select(O.c.id).where(*which).order_by(O.c.sent_at, O.c.id).limit(limit).scalar_subquery()
    return (update(O).where(O.c.id.in_(pending), *which)
            .values(next_attempt_at=bindparam("until", type_=O.c.next_attempt_at.type), attempts=O.c.attempts + 1)
            .returning(O.c.id, O.c.channel, O.c.to, O.c.text, O.c.attempts))


def _among_ids(dialect: str):
    """outbox.id IN (:ids): PostgreSQL `id = ANY(:ids)`, one parameter however many ids; elsewhere an
    expanding IN."""
    return (O.c.id == any_(bindparam("ids", type_=ARRAY(Integer))) if dialect == "postgresql"
            else O.c.id.in_(bindparam("ids", expanding=True)))


@cache
def _mark_sent_statement(dialect: str):
    return (update(O).where(_among_ids(dialect), O.c.sent_at.is_(None))
            .values(sent_at=bindparam("now", type_=O.c.sent_at.type), next_attempt_at=None, last_error=None))


@cache
def _release_statement(dialect: str):
    return (update(O).where(_among_ids(dialect), O.c.sent_at.is_(None))
            .values(next_attempt_at=None, attempts=O.c.attempts - 1))


def mark_sent(s: Session, ids: list[int], now: datetime) -> None:
    relaxed_commit(s)
    if ids:
        s.execute(_mark_sent_statement(s.get_bind().dialect.name), {"ids": list(ids), "now": now})


def release_messages(s: Session, ids: list[int]) -> None:
    """Give claimed, untried messages back (the claim would run out before we got to them)."""
    if ids:
        s.execute(_release_statement(s.get_bind().dialect.name), {"ids": list(ids)})


def mark_failed(s: Session, message_id: int, retry_at: datetime, error: str) -> None:
    mark_failed_many(s, [(message_id, retry_at, error)])


def mark_failed_many(s: Session, failures: list[tuple[int, datetime, str]]) -> None:
    """Failed sends, each due again at its own time: one statement built once, run as an executemany
    (psycopg pipelines it: one round trip for the batch)."""
    if failures:
        s.connection().execute(_mark_failed_statement(),
                               [{"mid": i, "retry_at": at, "error": error[:500]} for i, at, error in failures])


@cache
def _mark_failed_statement():
    return (update(O).where(O.c.id == bindparam("mid"), O.c.sent_at.is_(None))
            .values(next_attempt_at=bindparam("retry_at", type_=O.c.next_attempt_at.type),
                    last_error=bindparam("error")))


def next_pending_at(s: Session) -> datetime | None:
    return s.execute(select(func.min(O.c.next_attempt_at)).where(O.c.sent_at.is_(None))).scalar()


def has_unclaimed_messages(s: Session) -> bool:
    return s.execute(select(O.c.id).where(O.c.sent_at.is_(None), O.c.next_attempt_at.is_(None)).limit(1)).first() is not None
