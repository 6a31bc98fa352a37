"""Identity: SMS one-time codes for subscribers, passwords for staff, opaque bearer tokens.

A session belongs to the real-name person (customer), not to the number used to log in.

Rules (numbers from Settings): a code has 6 digits, lives 5 minutes, is used once, is stored only
as an HMAC and compared in constant time; 5 wrong codes lock the number for 15 minutes (each
further lockout in a row doubles the lock, up to a day); at most 5 codes per number per hour, and
a generous per-client-address limit for carrier-grade NAT. `send_otp` answers the same and does
the same database work whether or not the number exists. Tokens are random (256 bits), stored
hashed, expire, and end at logout.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import timedelta
from typing import Any, Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from canceldesk.domain.errors import RateLimited
from canceldesk.domain.identifiers import InvalidIdentifier, mask_msisdn, normalize_msisdn
from canceldesk.domain.model import CustomerKind, LineStatus

from . import audit
from .errors import InvalidInput, TooManyRequests, Unauthorized
from .notifications import render
from .ports import AccountStore
from .principal import ACCOUNT_ROLES, Principal

_hasher = PasswordHasher()
STAFF_ROLES = ACCOUNT_ROLES  # roles of a password account (principal.ROLES without subscriber)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_STAFF_PASSWORD = 10
VOID_CHANNEL = "void"  # an outbox row that is never sent (service_layer/delivery.py)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        _hasher.hash("timing-equaliser")  # same work whether or not a hash exists
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_token_hash = token_hash  # older name


def _msisdn(raw: object) -> str:
    try:
        return normalize_msisdn(raw)
    except InvalidIdentifier as exc:
        raise InvalidInput(exc.message, {"field": exc.field}) from None


def limit_client(c, action: str, client: str | None) -> None:
    """The per-client-address limit of the login endpoints (429 past it)."""
    if client and c.rate_limiter is not None:
        try:
            c.rate_limiter.hit(f"{action}:{client}")
        except RateLimited as exc:
            raise TooManyRequests("too many attempts from this address; wait a few minutes",
                                  {"retry_after_seconds": exc.retry_after}) from None


_bare_store: Callable[[Any], AccountStore] | None = None


def use_bare_store(make: Callable[[Any], AccountStore]) -> None:
    """How to reach the accounts through a bare SQL session or connection (bootstrap wires it)."""
    global _bare_store
    _bare_store = make


def accounts(uow) -> AccountStore:
    """The unit of work's account store. The lock helpers below take a unit of work; callers that
    still hand over their bare SQL session or connection get a store made around it."""
    store = getattr(uow, "accounts", None)
    if store is not None:
        return store
    if _bare_store is None:
        raise RuntimeError("auth.use_bare_store() was not called (bootstrap does it)")
    return _bare_store(uow)


# ------------------------------------------------------------------------------ failure locks

def register_failure(uow, subject: str, now, max_failures: int, lock_minutes: int,
                     max_lock_minutes: int = 24 * 60) -> bool:
    """Count a failure; returns True when this failure locks the subject.

    The first lock lasts `lock_minutes`; each further lockout within a day of the previous lock
    doubles it, up to `max_lock_minutes` (so guessing cannot simply resume every 15 minutes).
    """
    store = accounts(uow)
    row = store.lock_state(subject)
    failures = (row["failures"] if row else 0) + 1
    lockouts = row["lockouts"] if row else 0
    if row and row["locked_until"] and row["locked_until"] < now - timedelta(days=1):
        lockouts = 0  # the last lock is long past: start again at the base duration
    locked_until = None
    if failures >= max_failures:
        minutes = min(lock_minutes * (2 ** min(lockouts, 16)), max(max_lock_minutes, lock_minutes))
        locked_until = now + timedelta(minutes=minutes)
        lockouts += 1
    values = dict(failures=0 if locked_until else failures, lockouts=lockouts,
                  locked_until=locked_until if locked_until else (row["locked_until"] if row else None))
    store.save_lock(subject, values, exists=row is not None)
    return locked_until is not None


def is_locked(uow, subject: str, now) -> bool:
    row = accounts(uow).lock_state(subject)
    return bool(row and row["locked_until"] and row["locked_until"] > now)


def clear_failures(uow, subject: str) -> None:
    accounts(uow).clear_lock(subject)


def tries_left(c, uow, subject: str) -> int:
    """Failures still allowed before the subject locks (0 while it is locked)."""
    row = accounts(uow).lock_state(subject)
    if row and row["locked_until"] and row["locked_until"] > c.now():
        return 0
    return max(0, c.settings.otp_max_attempts - (row["failures"] if row else 0))


def _register(c, uow, subject: str) -> bool:
    st = c.settings
    return register_failure(uow, subject, c.now(), st.otp_max_attempts, st.otp_lock_minutes, st.lock_max_minutes)


def _id_check_subject(principal: Principal) -> str:
    return f"idcheck:{principal.id}"[:80]


def guard_id_checks(c, uow, principal: Principal) -> None:
    """In-person ID checks of this staff member are paused after repeated mismatches (429)."""
    if is_locked(uow, _id_check_subject(principal), c.now()):
        raise TooManyRequests("too many ID checks did not match: checks are paused for a while",
                              code="ID_CHECK_LOCKED")


def count_id_check(c, uow, principal: Principal, matched: bool) -> bool:
    """Count an in-person check in the caller's transaction; True when this mismatch locks.

    Every path that compares a presented document (the counter's check, a staff pre-check, a
    staff request) counts here, so none of them is an oracle for the digits a masked ID hides."""
    if matched:
        clear_failures(uow, _id_check_subject(principal))
        return False
    return _register(c, uow, _id_check_subject(principal))


# ---------------------------------------------------------------------------- one-time codes

def send_otp(c, raw_msisdn: object, client: str | None = None, lang: str | None = None) -> None:
    """Send a 6-digit code. The answer — and the database work — is the same whether or not the
    number exists; only the SMS itself is skipped for a number nobody can log in with."""
    limit_client(c, "otp", client)
    msisdn = _msisdn(raw_msisdn)
    now = c.now()
    with c.uow() as uow:
        recent = uow.accounts.codes_sent_since(msisdn, now - timedelta(hours=1))
        if recent >= c.settings.otp_max_per_hour:
            raise TooManyRequests("too many codes requested for this number; try again within the hour",
                                  {"retry_after_seconds": 3600}, code="OTP_RATE_LIMITED")
        code = f"{secrets.randbelow(10**6):06d}"
        uow.accounts.add_code(msisdn, c.keyring.otp_hash(msisdn, code), now, c.settings.otp_ttl_seconds)
        text = render("otp", lang or c.pack.locale, code=code)
        deliverable = _principal_for_msisdn(uow, msisdn) is not None
        # Through the outbox either way — the same insert, the same commit, the same wake-up of the
        # deliverer — so known and unknown numbers answer in the same time. For a number nobody can
        # log in with the row goes to the "void" channel: no code, no SMS (delivery drops it).
        uow.repo.add_message(dedup_key=f"otp:{msisdn}:{now.timestamp()}:{secrets.token_hex(4)}",
                             channel="sms" if deliverable else VOID_CHANNEL, to=msisdn if deliverable else "-",
                             event="otp" if deliverable else "otp_void", ref=None,
                             text=text if deliverable else "-" * len(text), at=now)
        uow.commit()


def _otp_code(otp: object) -> str:
    if not isinstance(otp, str) or not otp.strip():
        raise InvalidInput("otp is required: the 6 digits sent by SMS", {"field": "otp"})
    code = unicodedata.normalize("NFKC", otp).strip()  # full-width digits from a Chinese IME
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidInput("otp is the 6 digits sent by SMS", {"field": "otp"})
    return code


def exchange_otp(c, raw_msisdn: object, otp: object, client: str | None = None,
                 as_role: str | None = None) -> dict:
    """`as_role="enterprise_admin"`: an admin who also has a personal line logs in for the company."""
    limit_client(c, "token", client)
    msisdn = _msisdn(raw_msisdn)
    code = _otp_code(otp)
    now = c.now()
    failure = Unauthorized("the code is wrong or has expired; request a new one", code="OTP_INVALID")
    masked = mask_msisdn(msisdn)
    with c.uow() as uow:
        subject = f"otp:{msisdn}"
        if is_locked(uow, subject, now):
            raise TooManyRequests("too many wrong codes: this number is locked for a while; try again later",
                                  code="OTP_LOCKED")
        row = uow.accounts.live_code(msisdn, now)
        ok = c.keyring.same(row["code_hash"] if row else "-" * 64, c.keyring.otp_hash(msisdn, code)) and row is not None
        principal = _principal_for_msisdn(uow, msisdn, as_role) if ok else None
        if not ok or principal is None:
            if row is not None:
                uow.accounts.fail_code(row["id"])
            locked = _register(c, uow, subject)
            audit.record(uow, at=now, actor="anonymous", event="login_locked" if locked else "login_failed",
                         subject=masked, details={"method": "otp"})
            uow.commit()
            raise failure
        uow.accounts.use_code(row["id"], now)
        clear_failures(uow, subject)
        token = _new_session(c, uow, principal, msisdn)
        audit.record(uow, at=now, actor=principal.actor, event="login", subject=masked,
                     details={"method": "otp", "role": principal.role})
        uow.commit()
    return {"token": token, "token_type": "bearer", "expires_in": c.settings.token_ttl_minutes * 60,
            "role": principal.role}


def _enterprise_admin(uow, msisdn: str) -> tuple[int, str] | None:
    """(admin id, enterprise id); a login on a closed or re-issued number has ended."""
    return uow.accounts.enterprise_admin(msisdn)


def _principal_for_msisdn(uow, msisdn: str, as_role: str | None = None) -> Principal | None:
    line = uow.repo.line(msisdn)
    if line is not None and line.status == LineStatus.ACTIVE and as_role != "enterprise_admin":
        customer = uow.repo.customer(line.customer_id)
        if customer is not None and customer.kind == CustomerKind.PERSON:
            return Principal(kind="subscriber", id=customer.id, login_msisdn=msisdn)
    admin = _enterprise_admin(uow, msisdn)
    if admin is not None:
        # Named by the admin record, never by the phone number (actors end up in the audit chain).
        admin_id, enterprise_id = admin
        return Principal(kind="staff", id=f"ea{admin_id}", role="enterprise_admin", enterprise_id=enterprise_id,
                         login_msisdn=msisdn)
    return None


def _new_session(c, uow, principal: Principal, login_msisdn: str | None) -> str:
    token = secrets.token_urlsafe(32)
    now = c.now()
    uow.accounts.add_session(
        token_hash=token_hash(token), principal_kind=principal.role if principal.kind == "staff" else "subscriber",
        principal_id=principal.id, login_msisdn=login_msisdn, created_at=now,
        expires_at=now + timedelta(minutes=c.settings.token_ttl_minutes))
    return token


# ------------------------------------------------------------------------------------ staff

def staff_login(c, username: object, password: object, client: str | None = None) -> dict:
    limit_client(c, "staff", client)
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise InvalidInput("username and password are required")
    failure = Unauthorized("wrong username or password", code="LOGIN_FAILED")
    now = c.now()
    if not _USERNAME.match(username) or len(password) > 200:
        verify_password(None, password[:200])  # same work as a wrong password
        raise failure
    with c.uow() as uow:
        subject = f"staff:{username}"
        if is_locked(uow, subject, now):
            raise TooManyRequests("too many failed logins: this account is locked for a while", code="LOGIN_LOCKED")
        row = uow.accounts.staff_user(username)
        if not verify_password(row["password_hash"] if row else None, password) or row["disabled"]:
            locked = _register(c, uow, subject)
            audit.record(uow, at=now, actor="anonymous", event="login_locked" if locked else "login_failed",
                         subject=f"staff:{username}", details={"method": "password"})
            uow.commit()
            raise failure
        clear_failures(uow, subject)
        principal = Principal(kind="staff", id=row["username"], role=row["role"], store=row["store"],
                              enterprise_id=row["enterprise_id"], display_name=row["display_name"])
        token = _new_session(c, uow, principal, None)
        audit.record(uow, at=now, actor=principal.actor, event="login", subject=f"staff:{username}",
                     details={"method": "password", "role": principal.role})
        uow.commit()
    return {"token": token, "token_type": "bearer", "expires_in": c.settings.token_ttl_minutes * 60,
            "role": principal.role}


def authenticate(c, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("log in first: send Authorization: Bearer <token>")
    invalid = Unauthorized("the session is missing, expired or ended; log in again", code="SESSION_INVALID")
    if not _TOKEN.match(token):
        raise invalid
    now = c.now()
    # Every API call passes here: it reads (on SQLite without the write lock); the rare write — the
    # last use once a minute, an idle session's end — is its own short transaction.
    with c.uow(readonly=True) as uow:
        row = uow.accounts.session(token_hash(token))
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
            raise invalid
        if _idle_too_long(c, row, now):
            raise Unauthorized("the session ended after a while without use; log in again", code="SESSION_IDLE")
        if row["principal_kind"] == "subscriber":
            return Principal(kind="subscriber", id=row["principal_id"], login_msisdn=row["login_msisdn"])
        if row["principal_kind"] == "enterprise_admin" and row["login_msisdn"]:
            admin = _enterprise_admin(uow, row["login_msisdn"])
            if admin is None or f"ea{admin[0]}" != row["principal_id"]:
                raise Unauthorized("this number is no longer an enterprise admin", code="SESSION_INVALID")
            return Principal(kind="staff", id=row["principal_id"], role="enterprise_admin",
                             enterprise_id=admin[1], login_msisdn=row["login_msisdn"])
        staff = uow.accounts.staff_user(row["principal_id"])
        if staff is None or staff["disabled"]:
            raise Unauthorized("this staff account is disabled", code="SESSION_INVALID")
        return Principal(kind="staff", id=staff["username"], role=staff["role"], store=staff["store"],
                         enterprise_id=staff["enterprise_id"], display_name=staff["display_name"])


IDLE_WRITE_EVERY = timedelta(seconds=60)  # how often a busy session's last use is written


def _idle_too_long(c, row, now) -> bool:
    """Sessions end when nobody is there: staff (and enterprise admins) after
    CANCELDESK_STAFF_IDLE_MINUTES (15), subscribers after CANCELDESK_SUBSCRIBER_IDLE_MINUTES (30); the
    absolute limit (token TTL) stays. The last use is written at most once a minute."""
    minutes = c.settings.subscriber_idle_minutes if row["principal_kind"] == "subscriber" \
        else c.settings.staff_idle_minutes
    last = row["last_seen_at"] or row["created_at"]
    if now - last > timedelta(minutes=minutes):
        with c.uow() as uow:
            uow.accounts.update_session(row["token_hash"], revoked_at=now)
            uow.commit()
        return True
    if now - last >= IDLE_WRITE_EVERY:
        with c.uow() as uow:
            uow.accounts.update_session(row["token_hash"], last_seen_at=now)
            uow.commit()
    return False


def end_sessions_of(uow, principal_id: str, now, subscriber: bool) -> int:
    """A changed password (or service password) ends that person's sessions (in the caller's
    transaction): a subscriber's (customer id), or a staff account's password logins (username)."""
    return accounts(uow).end_sessions_of(principal_id, now, subscriber)


def logout(c, token: str | None) -> None:
    if not token or not _TOKEN.match(token):
        return
    now = c.now()
    with c.uow() as uow:
        row = uow.accounts.session(token_hash(token))
        if row is None or row["revoked_at"] is not None:
            return
        uow.accounts.update_session(token_hash(token), revoked_at=now)
        actor = f"{row['principal_kind']}:{row['principal_id']}"
        audit.record(uow, at=now, actor=actor, event="logout", subject=None, details={})
        uow.commit()


def create_staff_user(c, username: str, password: str, role: str, display_name: str,
                      store: str | None = None, enterprise_id: str | None = None) -> None:
    if role not in STAFF_ROLES:
        raise InvalidInput(f"unknown role {role!r}; use one of {', '.join(STAFF_ROLES)}")
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise InvalidInput("a username has 1–64 letters, digits, '.', '_', '@' or '-'")
    if not isinstance(password, str) or len(password) < MIN_STAFF_PASSWORD:
        raise InvalidInput(f"a staff password has at least {MIN_STAFF_PASSWORD} characters")
    if role == "agent" and not store:
        raise InvalidInput("an agent belongs to a store: give --store")
    if role == "enterprise_admin" and not enterprise_id:
        raise InvalidInput("an enterprise admin belongs to an enterprise: give --enterprise")
    with c.uow() as uow:
        exists = uow.accounts.staff_user(username)
        values = dict(password_hash=hash_password(password), role=role, store=store, enterprise_id=enterprise_id,
                      display_name=display_name, disabled=False)
        uow.accounts.save_staff_user(username, values, exists=exists is not None)
        if exists and not verify_password(exists["password_hash"], password):  # a new password ends the old sessions
            end_sessions_of(uow, username, c.now(), subscriber=False)
        audit.record(uow, at=c.now(), actor="system:cli", event="staff_user_saved", subject=f"staff:{username}",
                     details={"role": role, "store": store, "enterprise_id": enterprise_id, "created": not exists})
        uow.commit()
