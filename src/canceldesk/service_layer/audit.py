"""Tamper-evident audit log: an append-only hash chain, each link an HMAC under a server key.

Row n stores ``seq`` (1, 2, 3 … without gaps), ``prev_hash`` (row n−1's hash) and
``hash = HMAC(audit key, [seq, prev_hash, at, actor, event, subject, details])``; one head row
(`audit_head`) stores the last seq and hash, MAC'd too. Someone with write access to the database
but not the secret key can therefore neither edit a row (its MAC no longer matches), nor delete
one (the next row's link and the seq break), nor cut rows off the end (the head no longer
matches), nor re-compute the chain after an edit (no key). `verify_chain` names the row.

Every use case that changes something security-relevant writes its event in the same
transaction as the change (`record`), and `UnitOfWork.commit` writes one row per request
transition (`before_commit`; the unit of work's `audit_log` tells which). The rows are stored
through the `ports.AuditLog` port (adapters/audit_store.py); the links and MACs are computed here. Rows never carry clear personal data:
numbers are masked, people are named by customer id or staff username.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable

from .ports import AuditLog, KeyRing

GENESIS = "0" * 64

_keyring: KeyRing | None = None
_bare_log: Callable[[Any], AuditLog] | None = None


def use_keyring(keyring: KeyRing) -> None:
    """The key that signs new rows (bootstrap wires it; verifying uses the container's keyring)."""
    global _keyring
    _keyring = keyring


def use_bare_log(make: Callable[[Any], AuditLog]) -> None:
    """How to reach the chain through a bare SQL session (bootstrap wires it)."""
    global _bare_log
    _bare_log = make


def _payload(seq: int, prev_hash: str, at: str, actor: str, event_: str, subject: str | None, details: dict) -> bytes:
    body = [seq, prev_hash, at, actor, event_, subject, details]
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _payload_tail(at: str, actor: str, event_: str, subject: str | None, details: dict) -> bytes:
    """_payload's bytes after `[seq,prev_hash`: `,at,actor,event,subject,details]`."""
    body = json.dumps([at, actor, event_, subject, details], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return b"," + body[1:].encode()


def _head_payload(seq: int, last_hash: str) -> bytes:
    return f"audit-head:{seq}:{last_hash}".encode()


def _log(target) -> AuditLog:
    """A unit of work's audit log, an AuditLog itself, or one made around a bare SQL session."""
    log = getattr(target, "audit_log", None)
    if log is not None:
        return log
    if hasattr(target, "write") and hasattr(target, "lock"):
        return target
    if _bare_log is None:
        raise RuntimeError("audit.use_bare_log() was not called (bootstrap does it)")
    return _bare_log(target)


# ------------------------------------------------------------------------------------------ writing

def append(uow, events: list[dict], keyring: KeyRing | None = None) -> None:
    """Append events ({at, actor, event, subject?, details?}) in the unit of work's transaction.

    `uow` is a unit of work, its `audit_log` itself, or a bare SQL session.
    """
    if not events:
        return
    keyring = keyring or _keyring
    if keyring is None:
        raise RuntimeError("audit.use_keyring() was not called (bootstrap does it)")
    log = _log(uow)
    # Everything but the links is made before the chain's lock: under it, each row costs one HMAC. A
    # row's payload is _payload(seq, prev, …) — the JSON array's tail after seq and prev serialised
    # here, byte for byte what json.dumps of the whole array gives (tests/unit/test_audit_payload.py).
    rows, tails = [], []
    for e in events:
        at: datetime = e["at"]
        details = e.get("details") or {}
        subject = None if e.get("subject") is None else str(e["subject"])[:100]
        actor = str(e["actor"])[:100]
        tails.append(_payload_tail(at.isoformat(), actor, e["event"], subject, details))
        rows.append(dict(seq=None, at=at, actor=actor, event=e["event"], subject=subject, details=details,
                         prev_hash=None, hash=None, key_id=None))
    log.lock()
    head = log.head()
    if head is None:
        seq, prev = log.last_link() or (0, GENESIS)
    else:
        seq, prev = head["seq"], head["hash"]
    kid = keyring.current_kid
    mac = keyring.audit_mac
    for row, tail in zip(rows, tails):
        seq += 1
        h = mac(b"".join((b"[%d," % seq, json.dumps(prev).encode(), tail)), kid)
        row["seq"], row["prev_hash"], row["hash"], row["key_id"] = seq, prev, h, kid
        prev = h
    log.write(rows, dict(seq=seq, hash=prev, key_id=kid, mac=keyring.audit_mac(_head_payload(seq, prev), kid)),
              head_exists=head is not None)


def record(uow, *, at, actor: str, event: str, subject: str | None = None, details: dict | None = None) -> None:
    """Append one event in the caller's transaction (so it commits with the change it records).

    The row is written by `before_commit`, right before COMMIT: the chain's lock is then always the
    last lock a transaction takes, and held for the shortest time. A rollback forgets it.
    """
    uow.audit_log.defer({"at": at, "actor": actor, "event": event, "subject": subject, "details": details})


def record_now(c, *, actor: str, event: str, subject: str | None = None, details: dict | None = None) -> None:
    """An event of its own (nothing else to commit with it, e.g. a refused login)."""
    with c.uow() as uow:
        record(uow, at=c.now(), actor=actor, event=event, subject=subject, details=details)
        uow.commit()


# ------------------------------------------------------------------------- request transitions

def before_commit(uow) -> None:
    """Write the recorded events and one row per request transition of this transaction (the unit
    of work calls this right before COMMIT)."""
    events, transitions = uow.audit_log.take()
    if not transitions and not events:
        return
    for entry, req in sorted(transitions, key=lambda t: (t[0].id or 0)):
        events.append({"at": entry.at, "actor": entry.actor, "event": "request_transition",
                       "subject": req.tracking_no if req is not None else entry.request_id,
                       "details": {"request_id": entry.request_id, "kind": req.kind if req is not None else None,
                                   "from": entry.from_status, "to": entry.to_status, "channel": entry.channel}})
    events.sort(key=lambda e: e["at"])  # stable: same-time events keep their order
    append(uow, events)


# ------------------------------------------------------------------------------------ verifying

def verify_chain(c, expect_head: tuple[int, str] | None = None) -> list[dict]:
    """Every problem found, each naming the row: [{"id", "seq", "problem"}]. Empty means intact.

    `expect_head` (seq, hash) is a head written down earlier (e.g. printed by a previous verify):
    the chain must still contain exactly that row.
    """
    keyring: KeyRing = c.keyring
    problems: list[dict] = []
    prev, expected_seq, last_id, last_seq = GENESIS, 1, None, 0
    seen_expected = expect_head is None
    with c.uow() as uow:
        for row in uow.audit_log.rows():
            at_s = row["at"].isoformat()
            details = row["details"] or {}
            seq = row["seq"]
            where = {"id": row["id"], "seq": seq}
            if row["key_id"] is None or seq is None:
                # Unsigned (written before migration 0003, or downgraded to dodge the MAC): never trusted.
                problems.append({**where, "problem": "not signed: no key id or seq (edited, or older than 0003)"})
                prev, expected_seq, last_id = row["hash"], (seq or expected_seq) + 1, row["id"]
                continue
            expected = keyring.audit_mac(_payload(seq, row["prev_hash"], at_s, row["actor"], row["event"],
                                                  row["subject"], details), row["key_id"])
            if seq is not None and seq > expected_seq:
                missing = f"seq {expected_seq}" if seq == expected_seq + 1 else f"seq {expected_seq}–{seq - 1}"
                problems.append({**where, "problem": f"deleted: the row(s) with {missing} before this row are missing"})
            elif seq is not None and seq < expected_seq:
                problems.append({**where, "problem": f"inserted or re-ordered: seq {seq} where {expected_seq} was due"})
            elif row["prev_hash"] != prev:
                problems.append({**where,
                                 "problem": "link broken: the row before it was deleted, replaced or inserted"})
            if expected is None:
                problems.append({**where, "problem": f"signed with key id {row['key_id']!r}, which is not configured: "
                                                     "add the old secret to CANCELDESK_OLD_SECRET_KEYS"})
            elif not keyring.same(row["hash"], expected):
                problems.append({**where, "problem": "edited: its contents no longer match its MAC"})
            if expect_head is not None and seq == expect_head[0]:
                seen_expected = keyring.same(row["hash"], expect_head[1])
            prev = row["hash"]
            expected_seq = (seq or expected_seq) + 1
            last_id, last_seq = row["id"], seq or last_seq
        head = uow.audit_log.head()
    if head is None and last_id is not None:
        problems.append({"id": None, "seq": None, "problem": "the chain head is missing (deleted?)"})
    if head is not None:
        mac = keyring.audit_mac(_head_payload(head["seq"], head["hash"]), head["key_id"])
        if mac is None or not keyring.same(head["mac"], mac):
            problems.append({"id": None, "seq": head["seq"], "problem": "the chain head was edited"})
        elif head["seq"] > last_seq:
            missing = f"seq {last_seq + 1}" if head["seq"] == last_seq + 1 else f"seq {last_seq + 1}–{head['seq']}"
            problems.append({"id": None, "seq": last_seq + 1,
                             "problem": f"deleted: the last row(s), {missing}, are missing "
                                        f"(the head says {head['seq']})"})
        elif head["seq"] < last_seq or not keyring.same(head["hash"], prev):
            problems.append({"id": last_id, "seq": last_seq,
                             "problem": "rows after the recorded head, or a replaced last row"})
    if not seen_expected:
        problems.append({"id": None, "seq": expect_head[0],
                         "problem": "the expected head row is missing or different: the chain was cut or rewritten"})
    return problems


def head(c) -> dict | None:
    """The current head, to write down outside the database (`audit verify` prints it)."""
    with c.uow() as uow:
        row = uow.audit_log.head()
    return None if row is None else {"seq": row["seq"], "hash": row["hash"]}
