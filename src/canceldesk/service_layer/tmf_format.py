"""The TMF622 v4 shapes of an order, its items, a cancellation and an event (plain dicts).

Date-times are UTC with a `Z` suffix (milliseconds), as in the specification's examples.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from canceldesk.domain.lifecycle import Status

BASE = "/tmf-api/productOrderingManagement/v4"
MOVING = {Status.SUBMITTED, Status.CHECKED, Status.AWAITING_CONFIRMATION, Status.IN_REVIEW, Status.EXECUTING}
FINAL = ("completed", "partial", "failed", "cancelled", "rejected")


def zulu(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def item_state(row: dict) -> str:
    if row.get("error_code") == "CANCELLED" or row.get("status") == Status.WITHDRAWN:
        return "cancelled"
    if row.get("error_code"):
        return "rejected"
    status = row.get("status")
    if status is None:
        return "acknowledged"
    if status in MOVING:
        return "inProgress"
    if status == Status.COMPLETED:
        return "completed"
    return "failed"       # rejected (a blocker) or failed (escalated to staff)


def order_state(counts: dict[str, int], total: int, started: bool) -> str:
    """The order's state from how many items are where (see order_store.state_counts)."""
    waiting = counts.get("", 0) + sum(n for s, n in counts.items() if s in MOVING)
    if waiting:
        return "inProgress" if started or waiting < total else "acknowledged"
    cancelled = counts.get(Status.WITHDRAWN, 0) + counts.get("error:CANCELLED", 0)
    done = counts.get(Status.COMPLETED, 0)
    if total and cancelled == total:
        return "cancelled"
    if done == total:
        return "completed"
    return "failed" if done == 0 else "partial"


def _note(row: dict, at: datetime | None) -> dict | None:
    ref, state = row["item_ref"], item_state(row)
    if state in ("completed", "inProgress", "acknowledged"):
        return None
    if row.get("error_code"):
        text = f"item {ref}: {row['error_code']} — {row.get('error_message') or ''}"
    elif row.get("blockers"):
        text = f"item {ref}: " + "; ".join(
            f"{b['code']} — {b.get('message', '')}" + (f" — {b['resolution']}" if b.get("resolution") else "")
            for b in row["blockers"])
    elif row.get("status") == Status.FAILED:
        text = f"item {ref}: FAILED — the closing did not finish; staff have it (tracking no {row.get('tracking_no')})"
    elif row.get("reject_codes"):
        text = f"item {ref}: " + ", ".join(row["reject_codes"])
    else:
        text = f"item {ref}: {state}"
    return {"id": f"item-{ref}", "author": "canceldesk", "date": zulu(at), "text": text, "@type": "Note"}


def item(row: dict) -> dict:
    product_id = row["subscription_id"] or row["msisdn"]
    out = {"id": row["item_ref"], "action": row["action"], "state": item_state(row), "quantity": 1,
           "product": {"id": product_id, "@type": "Product"}, "@type": "ProductOrderItem"}
    if row.get("tracking_no"):
        out["trackingNo"] = row["tracking_no"]   # the request the portal and the console show
    return out


def order(o: dict, rows: list[dict] | None) -> dict:
    out = {"id": o["id"], "href": f"{BASE}/productOrder/{o['id']}", "orderDate": zulu(o["order_date"]),
           "state": o["state"], "category": o.get("category") or "enterprise", "channel": [
               {"id": "partner", "name": "partner", "@type": "ChannelRef"}],
           "relatedParty": o["related_party"] or [], "@type": "ProductOrder"}
    for key, field in (("completionDate", "completion_date"), ("requestedCompletionDate", "requested_completion_date"),
                       ("cancellationDate", "cancellation_date")):
        if o.get(field):
            out[key] = zulu(o[field])
    for key, field in (("externalId", "external_id"), ("description", "description"), ("priority", "priority"),
                       ("cancellationReason", "cancellation_reason")):
        if o.get(field):
            out[key] = o[field]
    if rows is not None:
        out["productOrderItem"] = [item(r) for r in rows]
        notes = [n for n in (_note(r, o.get("completion_date") or o["updated_at"]) for r in rows) if n]
        if notes:
            out["note"] = notes
    return out


REQUIRED = {"productOrderItem", "productOrder"}   # the specification requires them in every answer


def pick(resource: dict, fields: list[str] | None) -> dict:
    """`fields`: the attributes asked for (id, href and what the specification requires come along)."""
    if not fields:
        return resource
    keep = set(fields) | {"id", "href"} | REQUIRED
    return {k: v for k, v in resource.items() if k in keep}


def cancellation(row: dict) -> dict:
    out = {"id": row["id"], "href": f"{BASE}/cancelProductOrder/{row['id']}", "state": row["state"],
           "productOrder": {"id": row["order_id"], "href": f"{BASE}/productOrder/{row['order_id']}",
                            "@referredType": "ProductOrder"}, "@type": "CancelProductOrder"}
    if row.get("cancellation_reason"):
        out["cancellationReason"] = row["cancellation_reason"]
    for key, field in (("effectiveCancellationDate", "effective_cancellation_date"),
                       ("requestedCancellationDate", "requested_cancellation_date")):
        if row.get(field):
            out[key] = zulu(row[field])
    return out


# ---- reading a large order without holding it all ---------------------------------------------------
class NotJson(ValueError):
    """The text is not one JSON object (the message says where)."""


_WS = " \t\n\r"
_DECODER = json.JSONDecoder()


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _value(text: str, i: int):
    try:
        return _DECODER.raw_decode(text, i)
    except json.JSONDecodeError as exc:
        raise NotJson(f"the body is not valid JSON: {exc.msg} at character {exc.pos}") from None


def members(text: str, lazy_key: str) -> Iterator[tuple[str, object]]:
    """The members of the JSON object `text`, in order, as json.loads reads them — except that the
    array under `lazy_key` comes as an iterator of its elements, decoded one at a time (consume it
    before asking for the next member). So a 100,000-item order is never a 100,000-element list."""
    i = _skip(text, 0)
    if text[i:i + 1] != "{":
        if i >= len(text):
            raise NotJson("the body is empty")
        _, j = _value(text, i)  # a malformed body says so first
        if _skip(text, j) != len(text):
            raise NotJson(f"the body is not valid JSON: extra data at character {_skip(text, j)}")
        raise NotJson("the body is a ProductOrder_Create object")
    i = _skip(text, i + 1)
    if text[i:i + 1] == "}":
        i += 1
    else:
        while True:
            if text[i:i + 1] != '"':
                raise NotJson(f"the body is not valid JSON: a member name expected at character {i}")
            key, i = _value(text, i)
            i = _skip(text, i)
            if text[i:i + 1] != ":":
                raise NotJson(f"the body is not valid JSON: ':' expected at character {i}")
            i = _skip(text, i + 1)
            if key == lazy_key and text[i:i + 1] == "[":
                where = [i]
                elements = _elements(text, where)
                yield key, elements
                for _ in elements:  # what the caller did not read is still checked
                    pass
                i = where[0]
            else:
                value, i = _value(text, i)
                yield key, value
            i = _skip(text, i)
            if text[i:i + 1] == ",":
                i = _skip(text, i + 1)
                continue
            if text[i:i + 1] == "}":
                i += 1
                break
            raise NotJson(f"the body is not valid JSON: ',' or '}}' expected at character {i}")
    if _skip(text, i) != len(text):
        raise NotJson(f"the body is not valid JSON: extra data at character {_skip(text, i)}")


def _elements(text: str, where: list[int]) -> Iterator[object]:
    i = _skip(text, where[0] + 1)
    if text[i:i + 1] == "]":
        where[0] = i + 1
        return
    while True:
        value, i = _value(text, i)
        yield value
        i = _skip(text, i)
        if text[i:i + 1] == ",":
            i = _skip(text, i + 1)
            continue
        if text[i:i + 1] == "]":
            where[0] = i + 1
            return
        raise NotJson(f"the body is not valid JSON: ',' or ']' expected at character {i}")


def created_item(row: dict) -> dict:
    """An item as the order's creation answers it: acknowledged, or rejected with why."""
    return item({**row, "status": None, "tracking_no": None})


def created_note(row: dict, at: datetime | None) -> dict | None:
    return _note({**row, "status": None, "tracking_no": None}, at)
