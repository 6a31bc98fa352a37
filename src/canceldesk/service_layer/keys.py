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

from . import audit

BATCH = 500


def _reencrypt(c, column: str) -> int:
    done = 0
    while True:
        with c.uow() as uow:
            rows = uow.keys.stale_tokens(column, c.keyring.current_kid, BATCH)
            for key, token in rows:
                uow.keys.rewrite(column, key, token, c.keyring.decrypt(token))
            uow.commit()
        done += len(rows)
        if len(rows) < BATCH:
            return done


def _redigest(c) -> int:
    changed, last = 0, ""
    while True:
        with c.uow() as uow:
            rows = uow.keys.id_documents(last, BATCH)
            if not rows:
                return changed
            for customer_id, id_doc_number, digest in rows:
                fresh = c.keyring.digest(id_doc_number)
                if digest != fresh:
                    uow.keys.set_digest(customer_id, fresh)
                    changed += 1
            uow.commit()
            last = rows[-1][0]


def rotate(c) -> dict:
    """Re-encrypt and re-digest everything not yet under the current key. Returns counts."""
    report = {"key_id": c.keyring.current_kid, "reencrypted": {}, "digests_recomputed": 0}
    with c.uow() as uow:
        columns = uow.keys.encrypted_columns()
    for column in columns:
        report["reencrypted"][column] = _reencrypt(c, column)
    report["digests_recomputed"] = _redigest(c)
    audit.record_now(c, actor="system:cli", event="keys_rotated", subject=c.keyring.current_kid,
                     details={"reencrypted": sum(report["reencrypted"].values()),
                              "digests_recomputed": report["digests_recomputed"]})
    return report


def status(c) -> dict:
    """How many encrypted values each key id still protects (current key first)."""
    counts: dict[str, int] = {}
    with c.uow() as uow:
        for column in uow.keys.encrypted_columns():
            for value in uow.keys.tokens(column):
                kid = c.keyring.key_id_of_token(value) or "?"
                counts[kid] = counts.get(kid, 0) + 1
    return {"current_key_id": c.keyring.current_kid, "values_by_key_id": counts}
