"""What identity needs from storage (service_layer/ports.py: AccountStore), in SQL: failure locks,
one-time codes, bearer-token sessions, staff accounts and enterprise-admin logins. It runs in the
caller's transaction (a Session, or a bare Connection) and never commits."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from . import orm, prepared, securitystore

L, S, U, O = orm.login_locks, orm.sessions, orm.staff_users, orm.otp_codes


class SqlAccountStore:
    def __init__(self, session):
        self.s = session

    # failure locks ----------------------------------------------------------------------------------
    def lock_state(self, subject: str) -> dict | None:
        row = self.s.execute(select(L).where(L.c.subject == subject)).mappings().first()
        return None if row is None else dict(row)

    def save_lock(self, subject: str, values: dict, exists: bool) -> None:
        if exists:
            self.s.execute(update(L).where(L.c.subject == subject).values(**values))
        else:
            self.s.execute(L.insert().values(subject=subject, **values))

    def clear_lock(self, subject: str) -> None:
        self.s.execute(L.delete().where(L.c.subject == subject))

    # one-time codes ---------------------------------------------------------------------------------
    def codes_sent_since(self, msisdn: str, since: datetime) -> int:
        return securitystore.codes_sent_since(self.s, msisdn, since)

    def add_code(self, msisdn: str, code_hash: str, now: datetime, ttl_seconds: int) -> None:
        securitystore.add_code(self.s, msisdn, code_hash, now, ttl_seconds)

    def live_code(self, msisdn: str, now: datetime) -> dict | None:
        row = securitystore.live_code(self.s, msisdn, now)
        return None if row is None else dict(row)

    def use_code(self, code_id: int, now: datetime) -> None:
        securitystore.use_code(self.s, code_id, now)

    def fail_code(self, code_id: int) -> None:
        self.s.execute(update(O).where(O.c.id == code_id).values(failed_attempts=O.c.failed_attempts + 1))

    # sessions ---------------------------------------------------------------------------------------
    def add_session(self, **values) -> None:
        self.s.execute(S.insert().values(**values))

    def session(self, token_hash: str) -> dict | None:
        # every API call: a prepared Core statement on the connection (no ORM execution path)
        conn = self.s.connection() if hasattr(self.s, "connection") else self.s
        row = conn.execute(prepared.session_by_hash(), {"token_hash": token_hash}).mappings().first()
        return None if row is None else dict(row)

    def update_session(self, token_hash: str, **values) -> None:
        self.s.execute(update(S).where(S.c.token_hash == token_hash).values(**values))

    def end_sessions_of(self, principal_id: str, now: datetime, subscriber: bool) -> int:
        """A subscriber's sessions (customer id), or a staff account's password logins (username)."""
        who = (S.c.principal_kind == "subscriber") if subscriber else \
            ((S.c.principal_kind != "subscriber") & S.c.login_msisdn.is_(None))
        return self.s.execute(update(S).where(who, S.c.principal_id == principal_id, S.c.revoked_at.is_(None))
                              .values(revoked_at=now)).rowcount

    # staff accounts and enterprise admins -----------------------------------------------------------
    def staff_user(self, username: str) -> dict | None:
        row = self.s.execute(select(U).where(U.c.username == username)).mappings().first()
        return None if row is None else dict(row)

    def save_staff_user(self, username: str, values: dict, exists: bool) -> None:
        if exists:
            self.s.execute(update(U).where(U.c.username == username).values(**values))
        else:
            self.s.execute(U.insert().values(username=username, **values))

    def enterprise_admin(self, msisdn: str) -> tuple[int, str] | None:
        """(admin id, enterprise id) of the first live admin login on this number."""
        ea = orm.enterprise_admins.c
        row = self.s.execute(select(ea.id, ea.enterprise_id)
                             .where(ea.msisdn == msisdn, securitystore.live_admin_filter())
                             .order_by(ea.id).limit(1)).first()
        return None if row is None else (row.id, row.enterprise_id)

    def live_admin_logins(self, msisdns: list[str]) -> list[tuple[str, str]]:
        """(admin msisdn, enterprise id) of the admin logins on these numbers that have not ended."""
        return [(m, e) for m, e in securitystore.live_admin_logins(self.s, msisdns)] if msisdns else []

    def live_admin_numbers(self, enterprise_id: str) -> list[str]:
        return securitystore.live_admin_numbers(self.s, enterprise_id)

    def end_admin_login(self, enterprise_id: str, msisdn: str, now: datetime, reason: str) -> None:
        """Record the login as ended (a later import naming the number again does not revive it) and
        revoke its sessions."""
        self.s.execute(orm.ended_admin_logins.insert().values(enterprise_id=enterprise_id, msisdn=msisdn,
                                                              ended_at=now, reason=reason))
        self.s.execute(update(S).where(S.c.principal_kind == "enterprise_admin", S.c.login_msisdn == msisdn,
                                       S.c.revoked_at.is_(None)).values(revoked_at=now))

    # staff who matched a customer's document in person -----------------------------------------------
    def remember_verified(self, actor: str, customer_id: str, now: datetime) -> None:
        securitystore.remember_verified(self.s, actor, customer_id, now)

    def verified_at(self, actor: str, customer_id: str) -> datetime | None:
        return securitystore.verified_at(self.s, actor, customer_id)
