"""Small queries of the security use cases (staffscope, fleetguard), so the service layer does not
write SQL: in-person verifications by staff, fresh one-time codes, an enterprise's admin numbers."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, not_, select, update

from . import orm
from .bulk import among


# ---- staff verified this customer in person ----------------------------------------------------
def remember_verified(s, actor: str, customer_id: str, now: datetime) -> None:
    t = orm.staff_verifications
    done = s.execute(update(t).where(t.c.actor == actor, t.c.customer_id == customer_id)
                     .values(verified_at=now)).rowcount
    if not done:
        s.execute(t.insert().values(actor=actor, customer_id=customer_id, verified_at=now))


def verified_at(s, actor: str, customer_id: str) -> datetime | None:
    t = orm.staff_verifications
    return s.execute(select(t.c.verified_at).where(t.c.actor == actor, t.c.customer_id == customer_id)).scalar()


def requested_at_store(store: str | None):
    """SQL: requests taken by an agent of this store (`agent:<name>@<store>`)."""
    if not store:
        return orm.requests.c.id.is_(None)
    escaped = store.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return orm.requests.c.requested_by.like(f"agent:%@{escaped}", escape="\\")


# ---- one-time codes for a step-up outside login -------------------------------------------------
def codes_sent_since(s, msisdn: str, since: datetime) -> int:
    return s.execute(select(func.count()).select_from(orm.otp_codes).where(
        orm.otp_codes.c.msisdn == msisdn, orm.otp_codes.c.created_at > since)).scalar_one()


def add_code(s, msisdn: str, code_hash: str, now: datetime, ttl_seconds: int) -> None:
    s.execute(orm.otp_codes.insert().values(msisdn=msisdn, code_hash=code_hash, created_at=now,
                                            expires_at=now + timedelta(seconds=ttl_seconds), failed_attempts=0))


def live_code(s, msisdn: str, now: datetime):
    return s.execute(select(orm.otp_codes).where(
        orm.otp_codes.c.msisdn == msisdn, orm.otp_codes.c.used_at.is_(None),
        orm.otp_codes.c.expires_at > now).order_by(orm.otp_codes.c.id.desc()).limit(1)).mappings().first()


def use_code(s, code_id: int, now: datetime) -> None:
    s.execute(update(orm.otp_codes).where(orm.otp_codes.c.id == code_id).values(used_at=now))


# ---- enterprise admins -------------------------------------------------------------------------
def live_admin_filter():
    """enterprise_admins rows whose login has not ended (a closed or re-issued number)."""
    ea, ended = orm.enterprise_admins, orm.ended_admin_logins
    return not_(exists().where(and_(ended.c.msisdn == ea.c.msisdn, ended.c.enterprise_id == ea.c.enterprise_id)))


def live_admin_logins(s, msisdns: list[str]) -> list:
    """(admin msisdn, enterprise id) of the admin logins on these numbers that have not ended."""
    ea = orm.enterprise_admins.c
    return s.execute(select(ea.msisdn, ea.enterprise_id).distinct()
                     .where(among(s, ea.msisdn, msisdns), live_admin_filter()).order_by(ea.enterprise_id)).all()


def live_admin_numbers(s, enterprise_id: str) -> list[str]:
    ea = orm.enterprise_admins.c
    return sorted({m for (m,) in s.execute(select(ea.msisdn).where(ea.enterprise_id == enterprise_id,
                                                                    live_admin_filter())).all()})
