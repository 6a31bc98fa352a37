"""Partner API keys: an enterprise admin creates one for the company's own systems (TMF622).

A key is `cdpk_<id>_<secret>`: shown once, at creation; stored as a keyed HMAC of the whole key
(the key ring, so a stolen table is useless without the application key); scoped to the
enterprise of the admin who created it; revocable at once. A key authenticates only on the
partner API (/tmf-api/…), never on /v1 and never to manage keys: a key cannot mint keys.
"""
from __future__ import annotations

import re
import secrets

from . import audit
from .errors import Forbidden, InvalidInput, NotFound, Unauthorized
from .principal import Principal

PREFIX = "cdpk_"
_KEY = re.compile(r"^cdpk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_ID = re.compile(r"^[0-9a-f]{12}$")


def partner_principal(key_id: str, enterprise_id: str) -> Principal:
    """A partner key acts as its enterprise's admin, through the partner channel."""
    return Principal(kind="partner", id=f"pk:{key_id}", role="enterprise_admin", enterprise_id=enterprise_id,
                     via="partner")


def _admin(principal: Principal) -> str:
    if principal.kind == "partner":
        raise Forbidden("a partner key cannot manage partner keys; an enterprise admin does")
    if principal.role != "enterprise_admin" or not principal.enterprise_id:
        raise Forbidden("this needs one of the roles: enterprise_admin")
    return principal.enterprise_id


def _public(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "prefix": f"{PREFIX}{row['id']}_…",
            "created_by": row["created_by"], "created_at": row["created_at"].isoformat(),
            "last_used_at": row["last_used_at"].isoformat() if row["last_used_at"] else None,
            "revoked_at": row["revoked_at"].isoformat() if row["revoked_at"] else None,
            "active": row["revoked_at"] is None}


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise InvalidInput("name the key (1–100 characters), e.g. the system that will use it", {"field": "name"})
    return name.strip()


def issue(c, enterprise_id: str, name: object, created_by: str) -> dict:
    """Create a key for an enterprise (also used by the CLI); the answer holds the only copy of it."""
    label = _name(name)
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    now = c.now()
    with c.uow() as uow:
        if not uow.partner_api.enterprise_exists(enterprise_id):
            raise NotFound("no such enterprise")
        uow.partner_api.add_key(id=key_id, enterprise_id=enterprise_id, name=label,
                              secret_hash=c.keyring.digest(key), created_by=created_by, created_at=now)
        audit.record(uow, at=now, actor=created_by, event="partner_key_created", subject=f"partner_key:{key_id}",
                     details={"enterprise": enterprise_id})
        row = uow.partner_api.key(key_id)
        uow.commit()
    return {**_public(row), "key": key}


def create(c, principal: Principal, name: object) -> dict:
    return issue(c, _admin(principal), name, principal.actor)


def list_keys(c, principal: Principal) -> list[dict]:
    ent = _admin(principal)
    with c.uow() as uow:
        return [_public(r) for r in uow.partner_api.keys_of(ent)]


def revoke(c, principal: Principal | None, key_id: str, enterprise_id: str | None = None) -> dict:
    """Revoke at once (the next call with it gets 401). Another enterprise's key answers 404."""
    ent = enterprise_id if principal is None else _admin(principal)
    actor = "cli" if principal is None else principal.actor
    key_id = str(key_id)
    now = c.now()
    with c.uow() as uow:
        row = uow.partner_api.key(key_id) if _ID.match(key_id) else None
        if row is None or (ent is not None and row["enterprise_id"] != ent):
            raise NotFound("no such partner key")
        if row["revoked_at"] is None:
            uow.partner_api.revoke_key(key_id, row["enterprise_id"], now, actor)
            audit.record(uow, at=now, actor=actor, event="partner_key_revoked", subject=f"partner_key:{key_id}",
                         details={"enterprise": row["enterprise_id"]})
        row = uow.partner_api.key(key_id)
        uow.commit()
    return _public(row)


def all_keys(c, enterprise_id: str) -> list[dict]:
    """For the CLI: an enterprise's keys (never the secrets)."""
    with c.uow() as uow:
        return [_public(r) for r in uow.partner_api.keys_of(enterprise_id)]


def looks_like_key(token: str | None) -> bool:
    return bool(token and token.startswith(PREFIX))


def authenticate(c, token: str | None) -> Principal:
    """The principal a partner key stands for; 401 for an unknown, wrong or revoked key (same answer)."""
    invalid = Unauthorized("the partner key is unknown or revoked", code="SESSION_INVALID")
    m = _KEY.match(token or "")
    if not m:
        raise invalid
    now = c.now()
    with c.uow() as uow:
        row = uow.partner_api.key(m.group(1))
        if row is None or row["revoked_at"] is not None or not c.keyring.matches_digest(row["secret_hash"], token):
            raise invalid
        if row["last_used_at"] is None or (now - row["last_used_at"]).total_seconds() > 60:
            uow.partner_api.touch_key(row["id"], now)
            uow.commit()
    return partner_principal(row["id"], row["enterprise_id"])
