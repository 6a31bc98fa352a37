"""Requests and lines of a large batch or order, read and written with Core instead of the ORM's unit of work.

The set-based intake (service_layer/intake.py) makes hundreds of requests per transaction and the
engine closes hundreds of lines per group. Through the session each request, timeline entry and line
cost an identity-map entry, a per-object flush and — for one multi-row INSERT — psycopg re-parsing a
statement of thousands of placeholders; a line (mapped with a version column) was one UPDATE each.
Here the same domain objects (made and moved by the domain's own constructors and transitions) are:

- `insert_requests`: new requests and their timeline entries, written with COPY on PostgreSQL
  (adapters/bulk.py), and handed to the audit chain as the ORM's flush would hand them;
- `read_lines`: lines read for the pre-checks only (never written: not tracked, not in the session);
- `LineRows`: lines read for the engine's group, whose changed columns are written by one
  statement per set of changed columns (bulk.update_rows: `UPDATE … FROM unnest` on PostgreSQL), with
  the same optimistic version check as the ORM's (`version = seen + 1 … WHERE version = seen`; a row
  changed meanwhile is a StaleDataError, which the engine's store turns into "not now"), and whose new
  history entries are inserted with them.

A unique key hit (two requests racing for one target) raises SQLAlchemy's IntegrityError, as a flush would.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import class_mapper, configure_mappers
from sqlalchemy.orm.base import manager_of_class
from sqlalchemy.orm.exc import StaleDataError

from canceldesk.domain.lifecycle import Request
from canceldesk.domain.model import Line

from . import audit_store, orm
from .bulk import among, insert_rows, update_rows

RQ, EV, LN, LH = orm.requests, orm.request_events, orm.lines, orm.line_history
_REQUEST_COLUMNS = [c.name for c in RQ.columns]
_EVENT_COLUMNS = ("at", "from_status", "to_status", "actor", "channel", "reason")
_HISTORY_COLUMNS = ("msisdn", "at", "from_status", "to_status", "actor", "channel", "request_id", "reason")


_UNMAPPED: dict[type, type] = {}


def unmapped(cls) -> type:
    """The mapped domain class `cls` without the ORM's instrumentation: a subclass whose mapped attributes
    are plain class attributes and whose __init__ is the domain's own (not the ORM's instrumented one), so
    its instances keep their values in their __dict__ only, with no attribute events or history, and never
    enter a session. Its methods and isinstance() are the domain class's; a class with an `entry_class`
    (Request, Line) appends unmapped entries (timeline, history) too. One class per mapped class."""
    sub = _UNMAPPED.get(cls)
    if sub is None:
        configure_mappers()
        extra = {}
        if isinstance(getattr(cls, "entry_class", None), type):
            extra["entry_class"] = unmapped(cls.entry_class)
        shadow = {prop.key: None for prop in class_mapper(cls).attrs}
        sub = _UNMAPPED[cls] = type(cls.__name__, (cls,), {
            **shadow, "__init__": manager_of_class(cls).original_init, "__module__": cls.__module__,
            "__qualname__": cls.__qualname__, "__doc__": cls.__doc__, **extra})
    return sub


def unsaved_request_class() -> type[Request]:
    """Request for the requests `insert_requests` writes: built, started and moved by the domain's own
    code but without the ORM's instrumentation — each of the ~70 attribute sets of a new request and its
    four timeline entries was an attribute event that recorded history nobody reads (the objects never
    enter the session)."""
    return unmapped(Request)


def insert_requests(s, reqs: list[Request]) -> None:
    """New requests (never added to the session) with their timeline entries, in the caller's transaction."""
    if not reqs:
        return
    rows, entries, pairs = [], [], []
    for req in reqs:
        d = req.__dict__
        rows.append({k: d.get(k) for k in _REQUEST_COLUMNS})
        for e in d.get("timeline", ()):
            e.request_id = req.id
            entries.append({"request_id": req.id, **{k: getattr(e, k) for k in _EVENT_COLUMNS}})
            pairs.append((e, req))
    insert_rows(s, RQ, rows)
    insert_rows(s, EV, entries)
    audit_store.note_transitions(s, pairs)


def loaded(cls, keys, row):
    """An object of the mapped class `cls` built from a Core row as the ORM builds a loaded one: no
    __init__, no attribute events, outside any session (the mappers must be configured)."""
    obj = manager_of_class(cls).new_instance()
    obj.__dict__.update(zip(keys, row))
    return obj


_LINE_COLUMNS = tuple(c.name for c in LN.columns)


def _line_class() -> type[Line]:
    """Line (and its history entries) without the ORM's instrumentation, for the lines read and
    written here with Core: the engine's close_line sets ~25 attributes of a line and its history
    entry, each an attribute event recording history that only this module's `write` reads — it
    compares with the row as read instead."""
    return unmapped(Line)


def _lines(s, msisdns) -> list[Line]:
    plain, make, out = _line_class(), object.__new__, []
    result = s.execute(select(LN).where(among(s, LN.c.msisdn, sorted(msisdns))))
    keys = list(result.keys())
    for row in result:
        line = make(plain)  # as the ORM makes a loaded object: no __init__
        line.__dict__.update(zip(keys, row))
        line.__dict__["history"] = []
        out.append(line)
    return out


def read_lines(s, msisdns) -> dict[str, Line]:
    """The lines, for reading only (the pre-checks): their changes are never written."""
    return {ln.msisdn: ln for ln in _lines(s, msisdns)} if msisdns else {}


def _values(line) -> tuple:
    return tuple(map(line.__dict__.get, _LINE_COLUMNS))


class LineRows:
    """The lines of one engine group, outside the session; `write` (before COMMIT) stores their changes:
    the columns whose values differ from those the line had when read (or last written)."""

    def __init__(self):
        self.lines: list[tuple[Line, tuple]] = []  # (line, its column values as read)

    def load(self, s, msisdns) -> dict[str, Line]:
        lines = _lines(s, msisdns) if msisdns else []
        self.lines += [(ln, _values(ln)) for ln in lines]
        return {ln.msisdn: ln for ln in lines}

    def adopt(self, lines) -> None:
        """Lines read and written by an earlier transaction of this group: written by `write` as if read now."""
        self.lines += [(ln, _values(ln)) for ln in lines]

    def write(self, s) -> None:
        batches: dict[tuple, list[dict]] = {}
        history = []
        for line, before in self.lines:
            d = line.__dict__
            for e in d.get("history", ()):
                history.append({k: getattr(e, k) for k in _HISTORY_COLUMNS})
            d["history"] = []
            now = _values(line)
            if now == before:
                continue
            changed = tuple(sorted(k for k, v, v0 in zip(_LINE_COLUMNS, now, before)
                                   if k != "version" and v is not v0 and v != v0))
            if changed:
                seen = d["version"]
                d["version"] = seen + 1
                batches.setdefault(changed, []).append({"msisdn": d["msisdn"], "seen": seen, "version": seen + 1,
                                                        **{k: d[k] for k in changed}})
        for params in batches.values():
            count = update_rows(s.connection(), LN, ("msisdn",), params, guard=("version", "seen"))
            if count != len(params):
                raise StaleDataError(f"lines: {len(params) - max(count, 0)} of {len(params)} changed meanwhile")
        insert_rows(s, LH, history)
        self.lines = []
