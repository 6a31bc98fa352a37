"""The audit chain's rows in SQL (service_layer/ports.py: AuditLog). service_layer/audit.py computes
the links and MACs; this stores them, serialises appenders, and tells which request transitions and
recorded events a transaction holds.

`watch(session)` (the unit of work calls it when a transaction begins) collects the timeline entries
the session flushes; a rollback forgets them and the recorded events alike.
"""
from __future__ import annotations

from typing import Iterator

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from canceldesk.domain.lifecycle import Request, TimelineEntry

from . import orm, prepared
from .bulk import insert_rows

HEAD_ID = 1
_PENDING = "canceldesk.audit.pending_transitions"
_DEFERRED = "canceldesk.audit.deferred_events"


def watch(session: Session) -> None:
    """Collect this session's transitions. The listeners are the Session class's (registered once,
    below): registering a pair on every write transaction's session cost more than the collecting."""
    session.info[_PENDING] = []
    session.info[_DEFERRED] = []


def _collect(session, _flush_context) -> None:
    pending = session.info.get(_PENDING)
    if pending is None:  # a session nobody watches (read-only units of work, scripts)
        return
    pending.extend((o, None) for o in session.new if isinstance(o, TimelineEntry))


def note_transitions(session: Session, pairs: list[tuple[TimelineEntry, Request]]) -> None:
    """Timeline entries written with Core in this transaction (the engine's store), each with its request."""
    session.info.setdefault(_PENDING, []).extend(pairs)


def _discard(session, _previous_transaction) -> None:
    if _PENDING in session.info or _DEFERRED in session.info:
        session.info[_PENDING] = []
        session.info[_DEFERRED] = []


event.listen(Session, "after_flush", _collect)
event.listen(Session, "after_soft_rollback", _discard)


class SqlAuditLog:
    def __init__(self, session: Session):
        self.session = session

    # this transaction's events --------------------------------------------------------------------
    def defer(self, event_: dict) -> None:
        self.session.info.setdefault(_DEFERRED, []).append(event_)

    def take(self) -> tuple[list[dict], list[tuple[TimelineEntry, Request | None]]]:
        """Flush, then hand over (once) the recorded events and the request transitions written so far."""
        self.session.flush()
        info = self.session.info
        events, pending = list(info.get(_DEFERRED) or []), list(info.get(_PENDING) or [])
        info[_PENDING], info[_DEFERRED] = [], []
        # each request flushed by the ORM is in the identity map: no query
        return events, [(e, req if req is not None else self.session.get(Request, e.request_id)) for e, req in pending]

    # the chain ------------------------------------------------------------------------------------
    def lock(self) -> None:
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":
            # Serialise appenders so two transactions cannot chain onto the same previous row.
            conn.execute(prepared.audit_lock())

    def head(self) -> dict | None:
        row = self.session.connection().execute(prepared.audit_head(HEAD_ID)).mappings().first()
        return None if row is None else dict(row)

    def last_link(self) -> tuple[int, str] | None:
        """(seq, hash) of the last row — seq counted when the row predates seq numbers — or None."""
        conn = self.session.connection()
        last = conn.execute(select(orm.audit_log.c.seq, orm.audit_log.c.hash)
                            .order_by(orm.audit_log.c.id.desc()).limit(1)).first()
        if last is None:
            return None
        return (last.seq or conn.execute(select(func.count()).select_from(orm.audit_log)).scalar_one()), last.hash

    def write(self, rows: list[dict], head: dict, head_exists: bool) -> None:
        conn = self.session.connection()
        insert_rows(None, orm.audit_log, rows, conn)  # executemany compiled once; COPY for a large group on PostgreSQL
        if head_exists:
            conn.execute(prepared.audit_head_update(HEAD_ID), {f"h_{k}": v for k, v in head.items()})
        else:
            conn.execute(orm.audit_head.insert().values(id=HEAD_ID, **head))

    def rows(self) -> Iterator[dict]:
        """Every row, oldest first."""
        for row in self.session.connection().execute(select(orm.audit_log).order_by(orm.audit_log.c.id)).mappings():
            yield dict(row)
