"""SQL of the CRM/BSS feed import (service_layer/importer.py, import_writer.py; ports.ImportRepository).

Everything is set-based: key look-ups `IN` chunks, and one `INSERT … ON CONFLICT (key) DO UPDATE`
executemany per chunk of rows. What canceldesk owns survives a re-import inside that statement (the
rules are documented in importer.py): a frozen or recyclable line keeps its status while the feed
names its owner, and a subscription's stopped renewal stays stopped.

A statement the database refuses raises `IntegrityConflict` with the database's one-line reason only:
SQLAlchemy's own message carries the rows (names, ID numbers) and never leaves this module.
"""
from __future__ import annotations

from sqlalchemy import and_, case, literal_column, null, or_, select
from sqlalchemy.exc import StatementError

from canceldesk.domain.errors import IntegrityConflict

from . import orm

IN_CHUNK = 2000
TABLES = {"product": orm.products, "customer": orm.customers, "line": orm.lines, "subscription": orm.subscriptions}
KEYS = {"product": "code", "customer": "id", "line": "msisdn", "subscription": "id"}


class ImportStore:
    def __init__(self, session):
        self.s = session
        self._statements: dict[str, object] = {}

    # reading ------------------------------------------------------------------------------------
    def existing_keys(self, rtype: str, keys) -> set:
        """Which of `keys` (of record type `rtype`) are stored."""
        col = TABLES[rtype].c[KEYS[rtype]]
        keys = sorted(keys)
        found: set = set()
        for i in range(0, len(keys), IN_CHUNK):
            found.update(self.s.scalars(select(col).where(col.in_(keys[i:i + IN_CHUNK]))))
        return found

    def password_hashes(self, msisdns: list[str]) -> dict[str, str | None]:
        t = orm.lines.c
        return dict(self.s.execute(select(t.msisdn, t.service_password_hash).where(t.msisdn.in_(msisdns))).all())

    def line_owners(self, msisdns: list[str]) -> list[tuple[str, str, str | None, str | None]]:
        """(msisdn, customer id, former customer id, service password hash) of the stored lines."""
        t = orm.lines.c
        return [tuple(r) for r in self.s.execute(
            select(t.msisdn, t.customer_id, t.former_customer_id, t.service_password_hash)
            .where(t.msisdn.in_(msisdns)))]

    def line_statuses(self, msisdns: list[str]) -> dict[str, str]:
        t = orm.lines.c
        return dict(self.s.execute(select(t.msisdn, t.status).where(t.msisdn.in_(msisdns))).all())

    # writing ------------------------------------------------------------------------------------
    def upsert(self, rtype: str, rows: list[dict]) -> None:
        """Insert the rows, or update exactly their columns (never others) where the key exists."""
        self._execute(self._upsert(rtype, rows[0].keys()), rows)

    def replace_admins(self, enterprise_ids: list[str], admins: list[dict]) -> None:
        """The admins of these enterprises become `admins` (enterprise_id, msisdn, name)."""
        ea = orm.enterprise_admins
        if enterprise_ids:
            self._execute(ea.delete().where(ea.c.enterprise_id.in_(enterprise_ids)))
        if admins:
            self._execute(ea.insert(), admins)

    def add_line_history(self, rows: list[dict]) -> None:
        if rows:
            self._execute(orm.line_history.insert(), rows)

    def replace_usage(self, usage: dict[str, dict]) -> None:
        """Usage facts per subscription id replace the stored ones (an empty dict: none)."""
        u = orm.subscription_usage
        self._execute(u.delete().where(u.c.subscription_id.in_(list(usage))))
        rows = [{"subscription_id": k, **v} for k, v in usage.items() if v]
        if rows:
            self._execute(u.insert(), rows)

    def _execute(self, stmt, rows: list[dict] | None = None) -> None:
        try:
            self.s.execute(stmt, rows) if rows is not None else self.s.execute(stmt)
        except StatementError as exc:
            reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0][:200]
            raise IntegrityConflict(reason) from None

    def _upsert(self, rtype: str, columns) -> object:
        if rtype in self._statements:
            return self._statements[rtype]
        name = self.s.get_bind().dialect.name
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - only the two supported databases
            raise RuntimeError(f"import does not support the {name} database")
        table, key = TABLES[rtype], KEYS[rtype]
        stmt = insert(table)
        ex = stmt.excluded
        keep = {key, "currency", "version", "status"} if rtype in ("line", "subscription") else {key}
        set_ = {c: ex[c] for c in columns if c not in keep}
        if rtype == "line":
            # A number canceldesk closed keeps its status: frozen (the owner may still reclaim it), or
            # recyclable while the feed still names its former owner (stale data, not a re-issue).
            # Literal SQL, not bound parameters, in the SET clause of an executemany.
            t = orm.lines.c
            # A number given to another customer is a re-issue: every old authority on it ends
            # (former owner, freeze, admin logins — see import_writer.py), and it takes the feed's status.
            same_owner = or_(ex.customer_id == t.customer_id, ex.customer_id == t.former_customer_id)
            kept = and_(t.status.in_((literal_column("'frozen'"), literal_column("'recyclable'"))), same_owner)
            set_["status"] = case((kept, t.status), else_=ex.status)
            for col in ("former_customer_id", "closed_at", "frozen_until"):
                set_[col] = case((same_owner, t[col]), else_=null())
            set_["version"] = t.version + literal_column("1")
        if rtype == "subscription" and "auto_renew" in set_:
            # A renewal the subscriber stopped here stays stopped: a stale CRM feed must never switch it
            # back on and charge them. canceldesk marks a stopped renewal with access_ends_at (or ends it).
            t = orm.subscriptions.c
            stopped = or_(t.status != literal_column("'active'"), t.access_ends_at.is_not(None))
            set_["auto_renew"] = case((stopped, t.auto_renew), else_=ex.auto_renew)
        stmt = stmt.on_conflict_do_update(index_elements=[key], set_=set_)
        self._statements[rtype] = stmt
        return stmt
