"""The import's write pass (importer.py): rows buffered per record type, written in foreign-key order
through the unit of work's import store (`uow.imports`, ports.ImportRepository), set-based.

What the service layer decides here: the columns canceldesk fills in (keyed ID digests, the pack's
currency, imported subscriptions start active, service-password hashes), the counts created/updated,
and the authority a re-import ends — a number given to another customer ends its admin logins (a
re-issue, announced after the commit), a changed service password ends its owner's sessions — and
the line history entry of a status the feed changed.
"""
from __future__ import annotations

from . import auth, numbers
from .import_validation import RANK, TYPES
from .service_passwords import PasswordHashing, verify_service_password

CHUNK = 2000


class Writer:
    """Buffers rows per type; a full buffer is written after every buffer it depends on."""

    def __init__(self, c, uow, passwords: PasswordHashing):
        self.c, self.uow, self.store, self.passwords = c, uow, uow.imports, passwords
        self.buffers: dict[str, list[dict]] = {t: [] for t in TYPES}
        self.counts = {t: {"created": 0, "updated": 0} for t in TYPES}
        self.reissued: list[str] = []
        self.ended_admins: list[tuple[str, str]] = []

    def _authority_changes(self, rows: list[dict], plain: dict) -> None:
        """In this transaction: numbers given to another customer end their admin logins (re-issue);
        a changed service password ends the owner's sessions."""
        new = {r["msisdn"]: r for r in rows}
        found = self.store.line_owners(list(new))
        reissued = sorted(m for m, cid, former, _ in found if new[m]["customer_id"] not in (cid, former))
        self.reissued += reissued
        self.ended_admins += numbers.end_admin_logins_in(self.uow, reissued, self.c.now(), "reissued")
        for m, cid, _, old_hash in found:  # a hash kept as it was is an unchanged password (_keep_or_hash)
            if old_hash and new[m]["service_password_hash"] not in (None, old_hash) and new[m]["customer_id"] == cid \
                    and not verify_service_password(self.c, old_hash, plain[m]):
                auth.end_sessions_of(self.uow, cid, self.c.now(), subscriber=True)

    def add(self, rtype: str, row: dict) -> None:
        buf = self.buffers[rtype]
        buf.append(row)
        if len(buf) >= CHUNK:
            self.flush(rtype)

    def flush(self, rtype: str) -> None:
        for t in TYPES[:RANK[rtype]]:  # what this type refers to goes first
            self._write(t)
        self._write(rtype)

    def flush_all(self) -> None:
        for t in TYPES:
            self._write(t)

    def _write(self, rtype: str) -> None:
        rows = self.buffers[rtype]
        if not rows:
            return
        self.buffers[rtype] = []
        keys = [r[KEY[rtype]] for r in rows]
        existing = self.store.existing_keys(rtype, keys)
        if rtype == "customer":
            admins = [{"enterprise_id": r["id"], "msisdn": m, "name": n} for r in rows for m, n in r.pop("admins")]
            for r in rows:
                r["id_doc_digest"] = self.c.keyring.digest(r["id_doc_number"])
        elif rtype == "subscription":
            usage = {r["id"]: r.pop("usage") for r in rows if "usage" in r}
            for r in rows:
                r["status"] = "active"
        elif rtype == "product":
            for r in rows:
                r["currency"] = r.get("currency") or self.c.pack.currency  # not given: the pack's
        elif rtype == "line":
            plain = {}
            for r in rows:
                password = plain[r["msisdn"]] = r.pop("service_password")
                r["service_password_hash"] = None if password is None else self.passwords.get(r["msisdn"])
                r["currency"], r["version"] = self.c.pack.currency, 1  # a line bills in the pack's currency
            self._authority_changes(rows, plain)
        before = self.store.line_statuses(keys) if rtype == "line" and existing else {}
        self.store.upsert(rtype, rows)
        if before:
            self._record_line_changes(before)
        if rtype == "customer":
            self.store.replace_admins(sorted(existing), admins)
        if rtype == "subscription" and usage:
            self.store.replace_usage(usage)  # usage facts (optional) replace the ones imported before
        self.counts[rtype]["updated"] += len(existing)
        self.counts[rtype]["created"] += len(rows) - len(existing)

    def _record_line_changes(self, before: dict[str, str]) -> None:
        """The feed changed a line's status (the operator's systems are authoritative): append it to the
        line's history like any other change, so the history stays complete."""
        after = self.store.line_statuses(list(before))
        now = self.c.now()
        self.store.add_line_history([
            {"msisdn": m, "at": now, "from_status": old, "to_status": after[m], "actor": "system:import",
             "channel": "import", "request_id": None, "reason": "imported"}
            for m, old in before.items() if m in after and after[m] != old])


KEY = {"product": "code", "customer": "id", "line": "msisdn", "subscription": "id"}
