"""SQL for the partner API's keys and notification hubs (the service layer stays SQL-free)."""
from __future__ import annotations

from sqlalchemy import select, update

from . import orm
from .securitystore import live_admin_filter


def add_key(session, **row) -> None:
    session.execute(orm.partner_keys.insert().values(**row))


def key(session, key_id: str) -> dict | None:
    row = session.execute(select(orm.partner_keys).where(orm.partner_keys.c.id == key_id)).mappings().first()
    return dict(row) if row else None


def keys_of(session, enterprise_id: str) -> list[dict]:
    t = orm.partner_keys
    return [dict(r) for r in session.execute(select(t).where(t.c.enterprise_id == enterprise_id)
                                             .order_by(t.c.created_at.desc(), t.c.id)).mappings()]


def revoke_key(session, key_id: str, enterprise_id: str, at, by: str) -> bool:
    t = orm.partner_keys
    res = session.execute(update(t).where(t.c.id == key_id, t.c.enterprise_id == enterprise_id,
                                          t.c.revoked_at.is_(None)).values(revoked_at=at, revoked_by=by))
    return res.rowcount == 1


def touch_key(session, key_id: str, at) -> None:
    session.execute(update(orm.partner_keys).where(orm.partner_keys.c.id == key_id).values(last_used_at=at))


def enterprise_exists(session, enterprise_id: str) -> bool:
    t = orm.customers
    return session.execute(select(t.c.id).where(t.c.id == enterprise_id, t.c.kind == "enterprise")).first() is not None


def admin_languages(session, enterprise_id: str, actor_prefix: str = "enterprise_admin:ea") -> list[tuple[str, str | None]]:
    """(number, language) of the enterprise's live admin logins: the language of the last request the
    admin placed (requests.requested_by = actor_prefix + admin id), None when they placed none."""
    ea, rq = orm.enterprise_admins.c, orm.requests.c
    admins = session.execute(select(ea.id, ea.msisdn).where(ea.enterprise_id == enterprise_id, live_admin_filter())
                             .order_by(ea.id)).all()
    out: dict[str, str | None] = {}
    for admin_id, msisdn in admins:
        lang = session.scalar(select(rq.lang).where(rq.requested_by == f"{actor_prefix}{admin_id}",
                                                    rq.lang.is_not(None))
                              .order_by(rq.created_at.desc()).limit(1))
        if out.get(msisdn) is None:
            out[msisdn] = lang
    return sorted(out.items())


# ---- hubs -------------------------------------------------------------------------------------------
def add_hub(session, **row) -> None:
    session.execute(orm.tmf_hubs.insert().values(**row))


def hubs_of(session, enterprise_id: str) -> list[dict]:
    t = orm.tmf_hubs
    return [dict(r) for r in session.execute(select(t).where(t.c.enterprise_id == enterprise_id,
                                                             t.c.deleted_at.is_(None)).order_by(t.c.id)).mappings()]


def delete_hub(session, hub_id: str, enterprise_id: str, at) -> bool:
    t = orm.tmf_hubs
    res = session.execute(update(t).where(t.c.id == hub_id, t.c.enterprise_id == enterprise_id,
                                          t.c.deleted_at.is_(None)).values(deleted_at=at))
    return res.rowcount == 1


class SqlPartnerStore:
    """service_layer/ports.py: PartnerStore — the functions above, bound to one unit of work's session."""

    def __init__(self, session):
        self.session = session

    def add_key(self, **row):
        add_key(self.session, **row)

    def key(self, key_id):
        return key(self.session, key_id)

    def keys_of(self, enterprise_id):
        return keys_of(self.session, enterprise_id)

    def revoke_key(self, key_id, enterprise_id, at, by):
        return revoke_key(self.session, key_id, enterprise_id, at, by)

    def touch_key(self, key_id, at):
        touch_key(self.session, key_id, at)

    def enterprise_exists(self, enterprise_id):
        return enterprise_exists(self.session, enterprise_id)

    def admin_languages(self, enterprise_id):
        return admin_languages(self.session, enterprise_id)

    def add_hub(self, **row):
        add_hub(self.session, **row)

    def hubs_of(self, enterprise_id):
        return hubs_of(self.session, enterprise_id)

    def delete_hub(self, hub_id, enterprise_id, at):
        return delete_hub(self.session, hub_id, enterprise_id, at)
