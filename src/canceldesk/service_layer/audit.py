"""Tamper-evident audit log: each row carries the hash of the previous one (a hash chain).

`verify_chain` recomputes every hash and names the first row that was edited, deleted or inserted.
"""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from canceldesk.adapters import orm

GENESIS = "0" * 64


def _digest(prev_hash: str, at: str, actor: str, event: str, subject: str | None, details: dict) -> str:
    payload = json.dumps([prev_hash, at, actor, event, subject, details], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def record(uow, *, at, actor: str, event: str, subject: str | None = None, details: dict | None = None) -> None:
    """Append one event in the caller's transaction (so it commits with the change it records)."""
    s = uow.session
    if s.bind.dialect.name == "postgresql":
        # Serialise appenders so two transactions cannot chain onto the same previous row.
        s.execute(select(orm.func_advisory_lock()))
    prev = s.execute(select(orm.audit_log.c.hash).order_by(orm.audit_log.c.id.desc()).limit(1)).scalar()
    prev = prev or GENESIS
    details = details or {}
    at_s = at.isoformat()
    s.execute(orm.audit_log.insert().values(at=at, actor=actor, event=event, subject=subject, details=details,
                                            prev_hash=prev, hash=_digest(prev, at_s, actor, event, subject, details)))


def verify_chain(c) -> list[dict]:
    problems = []
    prev = GENESIS
    with c.engine.connect() as conn:
        for row in conn.execute(select(orm.audit_log).order_by(orm.audit_log.c.id)).mappings():
            at_s = row["at"].isoformat()
            expected = _digest(prev, at_s, row["actor"], row["event"], row["subject"], row["details"] or {})
            if row["prev_hash"] != prev:
                problems.append({"id": row["id"], "problem": "previous-hash link broken: a row before it was deleted or inserted"})
            elif row["hash"] != expected:
                problems.append({"id": row["id"], "problem": "contents changed after it was written"})
            prev = row["hash"]
    return problems
