"""TMF622 notification hubs: a partner registers a callback; each state change of its enterprise's
orders is posted there as a `ProductOrderStateChangeEvent` — written to the outbox in the
transaction of the change (once per hub, order and state: the dedup key), delivered at least once
and retried with backoff by the outbox deliverer, signed with the hub's secret:

    X-Canceldesk-Signature: sha256=<hex HMAC-SHA256 of the raw body, key = the hub's secret>

The secret is in the answer to the registration only (stored encrypted)."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import uuid
from urllib.parse import urlsplit

from . import tmf_format
from .errors import InvalidInput, NotFound
from .principal import Principal

EVENT = "ProductOrderStateChangeEvent"
# An event lists at most this many items (TMF622 requires productOrderItem, minItems 1): a larger
# order's event lists the items that did not end as asked first, then the others by position, and
# says in `description` how many there are and where to GET them all.
ITEMS_IN_EVENTS = 1000


def _enterprise(principal: Principal) -> str:
    if principal.role != "enterprise_admin" or not principal.enterprise_id:
        raise NotFound("not found")
    return principal.enterprise_id


def _callback(raw: object, prod: bool) -> str:
    if not isinstance(raw, str) or not 0 < len(raw) <= 200:
        raise InvalidInput("callback is an http(s) URL of at most 200 characters", {"field": "callback"})
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() for ch in raw):
        raise InvalidInput("callback is an http(s) URL of at most 200 characters", {"field": "callback"})
    if prod:
        if parts.scheme != "https":
            raise InvalidInput("callback must use https", {"field": "callback"})
        host = parts.hostname
        try:
            internal = not ipaddress.ip_address(host).is_global
        except ValueError:
            internal = host == "localhost" or host.endswith((".local", ".internal", ".localhost"))
        if internal:
            raise InvalidInput("callback must be a public address", {"field": "callback"})
    return raw


def register(c, principal: Principal, body: object) -> dict:
    ent = _enterprise(principal)
    if not isinstance(body, dict):
        raise InvalidInput("the body is an EventSubscriptionInput object")
    callback = _callback(body.get("callback"), c.settings.env == "prod")
    query = body.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > 500):
        raise InvalidInput("query is a string of at most 500 characters", {"field": "query"})
    hub_id, secret = uuid.uuid4().hex, secrets.token_urlsafe(32)
    with c.uow() as uow:
        uow.partner_api.add_hub(id=hub_id, enterprise_id=ent, callback=callback, query=query,
                              secret=secret, created_by=principal.actor, created_at=c.now())
        uow.commit()
    out = {"id": hub_id, "callback": callback, "secret": secret}
    if query is not None:
        out["query"] = query
    return out


def delete(c, principal: Principal, hub_id: str) -> None:
    ent = _enterprise(principal)
    with c.uow() as uow:
        if not uow.partner_api.delete_hub(str(hub_id)[:32], ent, c.now()):
            raise NotFound(f"no hub with id {str(hub_id)[:32]}")
        uow.commit()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def announce(c, uow, order_id: str, enterprise_id: str, state: str, at) -> None:
    """Write the state change for every hub of the enterprise, in the caller's transaction."""
    hubs = uow.partner_api.hubs_of(enterprise_id)
    if not hubs:
        return
    o = uow.orders.order(order_id)
    big = o["size"] > ITEMS_IN_EVENTS
    resource = tmf_format.order(o, uow.orders.items(order_id, limit=ITEMS_IN_EVENTS if big else None))
    for hub in hubs:
        event = {"eventId": uuid.uuid4().hex, "eventTime": tmf_format.zulu(at), "eventType": EVENT,
                 "event": {"productOrder": resource}}
        if big:
            event["description"] = (f"productOrderItem lists {ITEMS_IN_EVENTS} of the order's {o['size']} items "
                                    f"(those that did not end as asked first); GET {resource['href']} for all")
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        uow.repo.add_message(dedup_key=f"tmf:{hub['id']}:{order_id}:{state}", channel="webhook", to=hub["callback"],
                             event="tmf_order_state", ref=hub["id"],
                             text=signature(hub["secret"], body.encode()) + "\n" + body, at=at)
