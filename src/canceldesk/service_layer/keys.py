"""Key rotation: re-encrypt personal data under the current key, re-compute look-up digests.

How to rotate (docs/security.md has the long version):

1. Set CANCELDESK_SECRET_KEY to a new random value and put the old one in
   CANCELDESK_OLD_SECRET_KEYS; restart. New data uses the new key; old rows still decrypt.
2. Run `canceldesk keys rotate`: every `Encrypted` column of every table is re-encrypted under
   the new key, and every ID-number digest is re-computed, in batches (safe to re-run, safe while
   the service runs).
3. Keep the old secret listed while receipts signed with it must verify and while audit rows
   MAC'd with it must verify (both are proofs and are never re-signed).
"""
from __future__ import annotations

from sqlalchemy import Text, select, type_coerce, update

from canceldesk.adapters import orm

from . import audit

BATCH = 500


def _encrypted_columns():
    for table in orm.metadata.sorted_tables:
        for col in table.columns:
            if isinstance(col.type, orm.Encrypted):
                yield table, col


def _reencrypt(c, table, col) -> int:
    pk = list(table.primary_key.columns)
    raw = type_coerce(col, Text)
    stale = ~raw.startswith(f"v1:{c.keyring.current_kid}:", autoescape=True)
    done = 0
    while True:
        with c.engine.begin() as conn:
            rows = conn.execute(select(*pk, raw.label("raw")).where(col.isnot(None), stale)
                                .order_by(*pk).limit(BATCH)).all()
            for row in rows:
                plain = c.keyring.decrypt(row.raw)
                cond = [p == getattr(row, p.name) for p in pk]
                # the Encrypted type encrypts under the current key on the way in; the raw value in
                # the condition keeps a concurrent change (already under the new key) untouched
                conn.execute(update(table).where(*cond, raw == row.raw).values({col.name: plain}))
            done += len(rows)
        if len(rows) < BATCH:
            return done


def _redigest(c) -> int:
    changed, last = 0, ""
    while True:
        with c.engine.begin() as conn:
            rows = conn.execute(select(orm.customers.c.id, orm.customers.c.id_doc_number, orm.customers.c.id_doc_digest)
                                .where(orm.customers.c.id > last).order_by(orm.customers.c.id).limit(BATCH)).all()
            if not rows:
                return changed
            for row in rows:
                fresh = c.keyring.digest(row.id_doc_number)
                if row.id_doc_digest != fresh:
                    conn.execute(update(orm.customers).where(orm.customers.c.id == row.id).values(id_doc_digest=fresh))
                    changed += 1
            last = rows[-1].id


def rotate(c) -> dict:
    """Re-encrypt and re-digest everything not yet under the current key. Returns counts."""
    report = {"key_id": c.keyring.current_kid, "reencrypted": {}, "digests_recomputed": 0}
    for table, col in _encrypted_columns():
        report["reencrypted"][f"{table.name}.{col.name}"] = _reencrypt(c, table, col)
    report["digests_recomputed"] = _redigest(c)
    audit.record_now(c, actor="system:cli", event="keys_rotated", subject=c.keyring.current_kid,
                     details={"reencrypted": sum(report["reencrypted"].values()),
                              "digests_recomputed": report["digests_recomputed"]})
    return report


def status(c) -> dict:
    """How many encrypted values each key id still protects (current key first)."""
    counts: dict[str, int] = {}
    with c.engine.connect() as conn:
        for table, col in _encrypted_columns():
            for (value,) in conn.execute(select(type_coerce(col, Text)).where(col.isnot(None))):
                kid = c.keyring.key_id_of_token(value) or "?"
                counts[kid] = counts.get(kid, 0) + 1
    return {"current_key_id": c.keyring.current_kid, "values_by_key_id": counts}
