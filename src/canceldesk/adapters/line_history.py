"""Every change of a line's status reaches `line_history`, whichever code made it.

The domain's transitions (`Line.close`, `Line.reclaim`, `Line.recycle`, `Line.transition`) check
the move and append the entry themselves. Code that still assigns `line.status` directly (the
executor, until it calls `Line.close` / `Line.reclaim`) is caught here, before each flush: the move
is checked against LINE_TRANSITIONS (an illegal one raises `IllegalTransition` and nothing is
written) and recorded, naming the request being executed on that line in the same transaction.
Set-based UPDATEs bypass the ORM: they write their history rows themselves (Repository).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from canceldesk.domain.execution import Step, StepRecord
from canceldesk.domain.lifecycle import Request, Status
from canceldesk.domain.model import LINES, Line, LineHistoryEntry, LineStatus

REASON_OF_KIND = {"close_line": "closed", "reclaim": "reclaimed"}


def install() -> None:
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Line, "load", _empty_history)


def _empty_history(line: Line, _context) -> None:
    line.__dict__.setdefault("history", [])  # a loaded line: no __init__ ran; its entries stay in the table


def _before_flush(session: Session, _context, _instances) -> None:
    changed = []
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, Line):
            continue
        recorded = set()
        for entry in obj.__dict__.get("history", ()):
            state = inspect(entry)
            if state.transient:  # appended by a transition since the last flush: write it
                session.add(entry)
            if not state.persistent:
                recorded.add(entry.to_status)
        hist = inspect(obj).attrs.status.history
        if hist.added and hist.deleted and str(hist.added[0]) != str(hist.deleted[0]) \
                and str(hist.added[0]) not in recorded:
            changed.append((obj, str(hist.deleted[0]), str(hist.added[0])))
    for line, old, new in changed:
        LINES.check(old, new)
        req = _executing_on(session, line.msisdn)
        session.add(LineHistoryEntry(
            msisdn=line.msisdn, at=_when(session, line, new, req), from_status=old, to_status=new,
            actor="system", channel="worker" if req is not None else "system",
            request_id=req.id if req is not None else None,
            reason=REASON_OF_KIND.get(req.kind) if req is not None else None))


_EXECUTING = "canceldesk.line_history.requests"


def executing(session: Session, requests) -> None:
    """Requests this transaction holds outside the session (the engine's store reads them with Core):
    a line change flushed meanwhile names them as the ORM's own would be named."""
    session.info.setdefault(_EXECUTING, []).extend(requests)


def _executing_on(session: Session, msisdn: str) -> Request | None:
    for obj in list(session.identity_map.values()) + session.info.get(_EXECUTING, []):
        if isinstance(obj, Request) and obj.msisdn == msisdn and obj.status == Status.EXECUTING:
            return obj
    return None


def _when(session: Session, line: Line, new: str, req: Request | None) -> datetime:
    """The engine's clock as the step recorded it (the freeze time, the step's finish), else now."""
    if new == LineStatus.FROZEN and line.closed_at is not None:
        return line.closed_at
    if req is not None:
        for obj in list(session.new) + list(session.identity_map.values()):
            if isinstance(obj, StepRecord) and obj.request_id == req.id and obj.finished_at is not None \
                    and obj.step in (Step.FREEZE_NUMBER, Step.RESTORE_NUMBER):
                return obj.finished_at
        if req.updated_at is not None:
            return req.updated_at
    return datetime.now(timezone.utc)
