"""Identity: SMS one-time codes for subscribers, passwords for staff, opaque bearer tokens.

A session belongs to the real-name person (customer), not to the number used to log in.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select, update

from canceldesk.adapters import orm
from canceldesk.domain.identifiers import InvalidIdentifier, normalize_msisdn
from canceldesk.domain.model import CustomerKind, LineStatus

from .errors import InvalidInput, TooManyRequests, Unauthorized
from .notifications import render
from .principal import Principal

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        _hasher.hash("timing-equaliser")  # same work whether or not a hash exists
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _msisdn(raw: object) -> str:
    try:
        return normalize_msisdn(raw)
    except InvalidIdentifier as exc:
        raise InvalidInput(exc.message, {"field": exc.field}) from None


def send_otp(c, raw_msisdn: object) -> None:
    """Send a 6-digit code. The answer is the same whether or not the number exists."""
    msisdn = _msisdn(raw_msisdn)
    now = c.now()
    with c.uow() as uow:
        s = uow.session
        recent = s.execute(select(orm.otp_codes.c.id).where(
            orm.otp_codes.c.msisdn == msisdn, orm.otp_codes.c.created_at > now - timedelta(hours=1))).all()
        if len(recent) >= c.settings.otp_max_per_hour:
            raise TooManyRequests("too many codes requested for this number; try again within the hour",
                                  {"retry_after_seconds": 3600})
        code = f"{secrets.randbelow(10**6):06d}"
        s.execute(orm.otp_codes.insert().values(
            msisdn=msisdn, code_hash=c.keyring.otp_hash(msisdn, code), created_at=now,
            expires_at=now + timedelta(seconds=c.settings.otp_ttl_seconds), failed_attempts=0))
        line = uow.repo.line(msisdn)
        is_admin = bool(uow.repo.enterprises_administered_by(msisdn))
        if (line is not None and line.status == LineStatus.ACTIVE) or is_admin:
            # An OTP is delivered at once (not via the worker): the subscriber is waiting for it.
            uow.repo.add_message(dedup_key=f"otp:{msisdn}:{now.timestamp()}:{secrets.token_hex(4)}", channel="sms",
                                 to=msisdn, event="otp", ref=None, text=render("otp", code=code), at=now)
            s.execute(update(orm.outbox).where(orm.outbox.c.sent_at.is_(None), orm.outbox.c.event == "otp",
                                               orm.outbox.c.to == msisdn).values(sent_at=now))
        uow.commit()


def _lock_state(s, subject: str):
    return s.execute(select(orm.login_locks).where(orm.login_locks.c.subject == subject)).mappings().first()


def register_failure(s, subject: str, now, max_failures: int, lock_minutes: int) -> bool:
    """Count a failure; returns True when this failure locks the subject."""
    row = _lock_state(s, subject)
    failures = (row["failures"] if row else 0) + 1
    locked_until = now + timedelta(minutes=lock_minutes) if failures >= max_failures else None
    if row is None:
        s.execute(orm.login_locks.insert().values(subject=subject, failures=failures, locked_until=locked_until))
    else:
        s.execute(update(orm.login_locks).where(orm.login_locks.c.subject == subject).values(
            failures=0 if locked_until else failures, locked_until=locked_until))
    return locked_until is not None


def is_locked(s, subject: str, now) -> bool:
    row = _lock_state(s, subject)
    return bool(row and row["locked_until"] and row["locked_until"] > now)


def clear_failures(s, subject: str) -> None:
    s.execute(orm.login_locks.delete().where(orm.login_locks.c.subject == subject))


def exchange_otp(c, raw_msisdn: object, otp: object) -> dict:
    msisdn = _msisdn(raw_msisdn)
    if not isinstance(otp, str) or not otp.strip():
        raise InvalidInput("otp is required: the 6 digits sent by SMS", {"field": "otp"})
    code = otp.strip()
    now = c.now()
    failure = Unauthorized("the code is wrong or has expired; request a new one", code="OTP_INVALID")
    with c.uow() as uow:
        s = uow.session
        subject = f"otp:{msisdn}"
        if is_locked(s, subject, now):
            raise TooManyRequests("too many wrong codes: this number is locked for 15 minutes", code="OTP_LOCKED")
        row = s.execute(select(orm.otp_codes).where(
            orm.otp_codes.c.msisdn == msisdn, orm.otp_codes.c.used_at.is_(None),
            orm.otp_codes.c.expires_at > now).order_by(orm.otp_codes.c.id.desc()).limit(1)).mappings().first()
        ok = row is not None and c.keyring.same(row["code_hash"], c.keyring.otp_hash(msisdn, code))
        principal = _principal_for_msisdn(uow, msisdn) if ok else None
        if not ok or principal is None:
            register_failure(s, subject, now, c.settings.otp_max_attempts, c.settings.otp_lock_minutes)
            uow.commit()
            raise failure
        s.execute(update(orm.otp_codes).where(orm.otp_codes.c.id == row["id"]).values(used_at=now))
        clear_failures(s, subject)
        token = _new_session(c, s, principal, msisdn)
        uow.commit()
    return {"token": token, "token_type": "bearer", "expires_in": c.settings.token_ttl_minutes * 60,
            "role": principal.role}


def _principal_for_msisdn(uow, msisdn: str) -> Principal | None:
    line = uow.repo.line(msisdn)
    if line is not None and line.status == LineStatus.ACTIVE:
        customer = uow.repo.customer(line.customer_id)
        if customer is not None and customer.kind == CustomerKind.PERSON:
            return Principal(kind="subscriber", id=customer.id, login_msisdn=msisdn)
    enterprises = uow.repo.enterprises_administered_by(msisdn)
    if enterprises:
        return Principal(kind="staff", id=msisdn, role="enterprise_admin", enterprise_id=enterprises[0],
                         login_msisdn=msisdn)
    return None


def _new_session(c, s, principal: Principal, login_msisdn: str | None) -> str:
    token = secrets.token_urlsafe(32)
    now = c.now()
    s.execute(orm.sessions.insert().values(
        token_hash=_token_hash(token), principal_kind=principal.role if principal.kind == "staff" else "subscriber",
        principal_id=principal.id, login_msisdn=login_msisdn, created_at=now,
        expires_at=now + timedelta(minutes=c.settings.token_ttl_minutes)))
    return token


def staff_login(c, username: object, password: object) -> dict:
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise InvalidInput("username and password are required")
    now = c.now()
    with c.uow() as uow:
        s = uow.session
        subject = f"staff:{username[:60]}"
        if is_locked(s, subject, now):
            raise TooManyRequests("too many failed logins: this account is locked for 15 minutes", code="LOGIN_LOCKED")
        row = s.execute(select(orm.staff_users).where(orm.staff_users.c.username == username)).mappings().first()
        if not verify_password(row["password_hash"] if row else None, password) or row["disabled"]:
            register_failure(s, subject, now, c.settings.otp_max_attempts, c.settings.otp_lock_minutes)
            uow.commit()
            raise Unauthorized("wrong username or password", code="LOGIN_FAILED")
        clear_failures(s, subject)
        principal = Principal(kind="staff", id=row["username"], role=row["role"], store=row["store"],
                              enterprise_id=row["enterprise_id"], display_name=row["display_name"])
        token = _new_session(c, s, principal, None)
        uow.commit()
    return {"token": token, "token_type": "bearer", "expires_in": c.settings.token_ttl_minutes * 60, "role": principal.role}


def authenticate(c, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("log in first: send Authorization: Bearer <token>")
    now = c.now()
    with c.uow() as uow:
        row = uow.session.execute(select(orm.sessions).where(
            orm.sessions.c.token_hash == _token_hash(token))).mappings().first()
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
            raise Unauthorized("the session is missing, expired or ended; log in again", code="SESSION_INVALID")
        if row["principal_kind"] == "subscriber":
            return Principal(kind="subscriber", id=row["principal_id"], login_msisdn=row["login_msisdn"])
        if row["principal_kind"] == "enterprise_admin" and row["login_msisdn"]:
            ents = uow.repo.enterprises_administered_by(row["login_msisdn"])
            if not ents:
                raise Unauthorized("this number is no longer an enterprise admin", code="SESSION_INVALID")
            return Principal(kind="staff", id=row["principal_id"], role="enterprise_admin", enterprise_id=ents[0],
                             login_msisdn=row["login_msisdn"])
        staff = uow.session.execute(select(orm.staff_users).where(
            orm.staff_users.c.username == row["principal_id"])).mappings().first()
        if staff is None or staff["disabled"]:
            raise Unauthorized("this staff account is disabled", code="SESSION_INVALID")
        return Principal(kind="staff", id=staff["username"], role=staff["role"], store=staff["store"],
                         enterprise_id=staff["enterprise_id"], display_name=staff["display_name"])


def logout(c, token: str) -> None:
    with c.uow() as uow:
        uow.session.execute(update(orm.sessions).where(orm.sessions.c.token_hash == _token_hash(token))
                            .values(revoked_at=c.now()))
        uow.commit()


def create_staff_user(c, username: str, password: str, role: str, display_name: str,
                      store: str | None = None, enterprise_id: str | None = None) -> None:
    if role not in ("agent", "reviewer", "admin", "enterprise_admin"):
        raise InvalidInput(f"unknown role {role!r}")
    with c.uow() as uow:
        s = uow.session
        exists = s.execute(select(orm.staff_users.c.username).where(orm.staff_users.c.username == username)).first()
        values = dict(password_hash=hash_password(password), role=role, store=store, enterprise_id=enterprise_id,
                      display_name=display_name, disabled=False)
        if exists:
            s.execute(update(orm.staff_users).where(orm.staff_users.c.username == username).values(**values))
        else:
            s.execute(orm.staff_users.insert().values(username=username, **values))
        uow.commit()
