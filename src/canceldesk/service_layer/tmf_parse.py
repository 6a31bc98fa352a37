"""Reading a TMF622 productOrder's fields (what a partner sent): each a clear 400 naming the field.

`product_orders.py` checks the numbers against the enterprise and writes the order; this module only reads."""
from __future__ import annotations

from datetime import datetime, timezone

from . import requests
from .errors import InvalidInput


def text_field(body: dict, key: str, limit: int) -> str | None:
    v = body.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or len(v) > limit:
        raise InvalidInput(f"{key} is a string of at most {limit} characters", {"field": key})
    return v


def parse_time(raw: object, field: str) -> datetime:
    if not isinstance(raw, str) or not 10 <= len(raw) <= 40:
        raise InvalidInput(f"{field} is a date-time like 2026-12-02T10:00:00.000Z", {"field": field})
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise InvalidInput(f"{field} is a date-time like 2026-12-02T10:00:00.000Z", {"field": field}) from None
    if at.tzinfo is None:
        raise InvalidInput(f"{field} needs a time zone (Z)", {"field": field})
    return at.astimezone(timezone.utc)


def characteristic(product: dict, name: str):
    chars = product.get("productCharacteristic") or []
    if not isinstance(chars, list):
        return None
    for ch in chars:
        if isinstance(ch, dict) and str(ch.get("name", "")).lower() == name.lower():
            return ch.get("value")
    return None


def parse_item(i: int, raw: object) -> dict:
    where = f"productOrderItem[{i}]"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} is an object", {"field": where})
    ref, action, product = raw.get("id"), raw.get("action"), raw.get("product")
    if not isinstance(ref, str) or not 0 < len(ref) <= 64:
        raise InvalidInput(f"{where}.id is a string of 1–64 characters", {"field": f"{where}.id"})
    if action in ("add", "noChange"):
        raise InvalidInput(f"{where}.action '{action}' is not offered: canceldesk only ends things "
                           "(delete, or modify with autoRenew=false)", {"field": f"{where}.action"},
                           code="ACTION_NOT_SUPPORTED")
    if action not in ("delete", "modify"):
        raise InvalidInput(f"{where}.action is one of delete, modify", {"field": f"{where}.action"})
    if not isinstance(product, dict):
        raise InvalidInput(f"{where}.product names what to end (product.id)", {"field": f"{where}.product"})
    pid = product.get("id")
    msisdn_char = characteristic(product, "MSISDN")
    if action == "modify":
        auto = characteristic(product, "autoRenew")
        if auto not in (False, "false"):
            raise InvalidInput(f"{where}: modify only stops a renewal (productCharacteristic autoRenew = false)",
                               {"field": f"{where}.product.productCharacteristic"}, code="ACTION_NOT_SUPPORTED")
        if not isinstance(pid, str) or not 0 < len(pid) <= 64:
            raise InvalidInput(f"{where}.product.id is the subscription id", {"field": f"{where}.product.id"})
        return {"ref": ref, "action": action, "kind": "cancel_renewal", "subscription_id": pid, "msisdn": None}
    number = msisdn_char if msisdn_char is not None else pid
    if msisdn_char is None and isinstance(number, str) and number.isdigit() and len(number) == 11:
        # checked in create(): a number among the enterprise's lines was validated when it was imported
        return {"ref": ref, "action": action, "kind": "close_line", "subscription_id": None, "msisdn": number,
                "unverified": True}
    if msisdn_char is not None:
        try:
            msisdn = requests.parse_msisdn(number)
        except InvalidInput:
            raise InvalidInput(f"{where}: the MSISDN is not a mobile number", {"field": f"{where}.product"}) from None
        return {"ref": ref, "action": action, "kind": "close_line", "subscription_id": None, "msisdn": msisdn}
    if not isinstance(pid, str) or not 0 < len(pid) <= 64:
        raise InvalidInput(f"{where}.product.id is an MSISDN or a subscription id", {"field": f"{where}.product.id"})
    return {"ref": ref, "action": action, "kind": "unsubscribe", "subscription_id": pid, "msisdn": None}
