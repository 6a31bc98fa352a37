"""A request read with Core for one use case that changes it (confirm), kept out of the ORM session;
and the facts a pre-check reads (line, subscriptions with products, open requests), read the same way
as snapshots nobody writes back (`Snapshots`).

The ORM's way — load the request, load its timeline (a second SELECT, selectin), track both, work
out at flush what changed — cost more CPU than the rest of a confirmation. Here the row and its
timeline are read with two prepared statements into instrumented objects (as the ORM builds a loaded
object: no __init__), and `write` puts back exactly the columns whose value was assigned a different
one (the instrumentation notes the value before the first set), plus the timeline entries appended
since, and hands those transitions to the audit chain (as the engine's store does, engine_store.py).
Like the ORM's own flush, a JSON value changed in place (not assigned) is not noticed: the domain's
transitions assign.
"""
from __future__ import annotations

from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.attributes import instance_state

from canceldesk.domain.lifecycle import OPEN, Request, TimelineEntry
from canceldesk.domain.model import Line, Product, Subscription

from . import audit_store, orm, prepared
from .request_rows import loaded as _build  # one way to build a loaded object from a Core row

RQ, EV = orm.requests, orm.request_events
LN, SB, PR = orm.lines, orm.subscriptions, orm.products


@cache
def _by_tracking_no():
    return select(RQ).where(RQ.c.tracking_no == bindparam("tracking_no"))


@cache
def _timeline():
    return select(EV).where(EV.c.request_id == bindparam("request_id")).order_by(EV.c.id)



class DetachedRequests:
    """The requests a unit of work read this way (per transaction), and their writing back."""

    def __init__(self, session):
        self.s = session
        self.held: list[tuple[Request, int]] = []  # (request, timeline entries already in the database)

    def load(self, tracking_no: str) -> Request | None:
        configure_mappers()  # no-op once the ORM has been used: the attributes are instrumented
        conn = self.s.connection()
        result = conn.execute(_by_tracking_no(), {"tracking_no": tracking_no})
        keys, row = list(result.keys()), result.first()
        if row is None:
            return None
        req = _build(Request, keys, row)
        events = conn.execute(_timeline(), {"request_id": req.id})
        ekeys = list(events.keys())
        req.__dict__["timeline"] = [_build(TimelineEntry, ekeys, r) for r in events]
        self.held.append((req, len(req.__dict__["timeline"])))
        return req

    def write(self) -> None:
        conn, still = None, []
        for req, stored in self.held:
            state, d = instance_state(req), req.__dict__
            changed = {k: d[k] for k, before in state.committed_state.items() if k != "timeline" and d.get(k) != before}
            state.committed_state.clear()
            timeline = d.get("timeline", [])
            new = timeline[stored:]
            conn = conn or self.s.connection()
            if changed:
                conn.execute(update(RQ).where(RQ.c.id == req.id).values(**changed))
            if new:
                for e in new:
                    e.request_id = req.id
                conn.execute(prepared.request_events_insert(),
                             [{"request_id": req.id, "at": e.at, "from_status": e.from_status, "to_status": e.to_status,
                               "actor": e.actor, "channel": e.channel, "reason": e.reason} for e in new])
                audit_store.note_transitions(self.s, [(e, req) for e in new])
            still.append((req, len(timeline)))
        self.held = still

    def forget(self) -> None:
        self.held = []


@cache
def _line():
    return select(LN).where(LN.c.msisdn == bindparam("msisdn"))


@cache
def _subscriptions():
    # products.code is the subscriptions' foreign key: the inner join drops no subscription
    return (select(*SB.c, *PR.c).join(PR, PR.c.code == SB.c.product_code)
            .where(SB.c.msisdn == bindparam("msisdn")).order_by(SB.c.id))


@cache
def _open_requests():
    return select(RQ).where(RQ.c.msisdn == bindparam("msisdn"), RQ.c.status.in_(sorted(str(s) for s in OPEN)))


class Snapshots:
    """Read-only copies of what a pre-check looks at, built as the ORM builds loaded objects but
    never in the session: nothing is tracked, nothing written back. An open request's `timeline` is
    not read (None): covering_request and the views need its number, kind and target only."""

    def __init__(self, session):
        self.s = session

    def line(self, msisdn: str) -> Line | None:
        configure_mappers()
        result = self.s.connection().execute(_line(), {"msisdn": msisdn})
        keys, row = list(result.keys()), result.first()
        if row is None:
            return None
        line = _build(Line, keys, row)
        line.__dict__["history"] = []  # as a loaded line's (adapters/line_history.py)
        return line

    def subscriptions_with_products(self, msisdn: str) -> list[tuple[Subscription, Product]]:
        configure_mappers()
        n = len(SB.c)
        skeys, pkeys = [c.name for c in SB.c], [c.name for c in PR.c]
        return [(_build(Subscription, skeys, row[:n]), _build(Product, pkeys, row[n:]))
                for row in self.s.connection().execute(_subscriptions(), {"msisdn": msisdn})]

    def open_requests_on_line(self, msisdn: str) -> list[Request]:
        configure_mappers()
        result = self.s.connection().execute(_open_requests(), {"msisdn": msisdn})
        keys, out = list(result.keys()), []
        for row in result:
            req = _build(Request, keys, row)
            req.__dict__["timeline"] = None
            out.append(req)
        return out
