"""TMF622 product orders: a partner's order to end many things is a batch with channel `partner`.

    POST → order `acknowledged` (a batch with one item per order item) → queue: `process(order,
    slice)` creates and confirms each item's request (the same request the portal shows) →
    `refresh` derives the order's state from its requests: inProgress → completed | partial |
    failed | cancelled, announcing each change once to the enterprise's hubs (tmf_hubs).

`delete` of an MSISDN (product.id, or a productCharacteristic `MSISDN`) → close_line; `delete` of
a subscription id → unsubscribe; `modify` with productCharacteristic autoRenew=false →
cancel_renewal. `add` and `noChange` are refused: canceldesk only ends things. A product not of
the caller's enterprise is rejected (the same answer as one that does not exist).
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta

from canceldesk.domain.batch import BatchPhase
from canceldesk.domain.identifiers import mask_msisdn

from . import batches, requests, tmf_format, tmf_hubs
from .errors import InvalidInput, NotFound, ServiceError
from .notifications import notify
from .ports import OrderStore
from .principal import Principal
from .tmf_parse import parse_item, parse_time, text_field

log = logging.getLogger("canceldesk.product_orders")

MAX_ITEMS = 1_000_000
# An order ending more than this many lines or services is announced to every admin of the enterprise
# (CHANNELS.md: the API adds no interactive step, so the other admins hear of a large order at once).
LARGE_ORDER_OVER = 1000
SLICE = 500                # items per queue task; each task queues the next slice of its chain
CHAINS = 4                 # slices of one order in flight at once: the executions they queue run between
STALLED_AFTER = timedelta(seconds=120)
CHUNK = 5000               # items parsed, checked and written (or read for the answer) at a time
ORDER_FIELDS = {"state": "state", "id": "id", "orderDate": "order_date"}


def _enterprise(principal: Principal) -> str:
    if principal.role != "enterprise_admin" or not principal.enterprise_id:
        raise NotFound("not found")
    return principal.enterprise_id


def _check_numbers(parsed: list[dict], lines: set[str], store: OrderStore, ent: str) -> None:
    """The plain 11-digit numbers not among the enterprise's lines go through the full MSISDN check
    (a malformed one refuses the order, as any malformed item does); a number it rewrites is looked up again."""
    rewritten = []
    for p in parsed:
        i = p["index"]
        if p.pop("unverified", False) and p["msisdn"] not in lines:
            try:
                msisdn = requests.parse_msisdn(p["msisdn"])
            except InvalidInput:
                raise InvalidInput(f"productOrderItem[{i}]: the MSISDN is not a mobile number",
                                   {"field": f"productOrderItem[{i}].product"}) from None
            if msisdn != p["msisdn"]:
                p["msisdn"] = msisdn
                rewritten.append(msisdn)
    if rewritten:
        lines.update(store.owned_lines(ent, sorted(set(rewritten))))


def _related_party(body: dict, ent: str) -> list[dict]:
    given = body.get("relatedParty")
    if given is None:
        return [{"id": ent, "role": "customer", "@referredType": "Organization"}]
    if not isinstance(given, list) or len(given) > 20:
        raise InvalidInput("relatedParty is a list", {"field": "relatedParty"})
    out = []
    for k, p in enumerate(given):
        if not isinstance(p, dict) or not isinstance(p.get("id"), str):
            raise InvalidInput(f"relatedParty[{k}].id is required", {"field": f"relatedParty[{k}].id"})
        if p.get("@referredType") in ("Organization", "Customer", "Party") and p["id"] != ent:
            raise NotFound(f"relatedParty[{k}]: no such party", {"field": f"relatedParty[{k}].id"})
        out.append({"id": p["id"][:64], "role": str(p.get("role") or "customer")[:40],
                    "@referredType": str(p.get("@referredType") or "Organization")[:40]})
    return out


def create(c, principal: Principal, body: object) -> dict:
    """Accept an order given as a parsed object; the answer lists every item (see create_from_json for
    a large body)."""
    if not isinstance(body, dict):
        raise InvalidInput("the body is a ProductOrder_Create object")
    order_id = accept(c, principal, iter(body.items()))
    out = get(c, principal, order_id)
    c.enqueue_order(order_id)
    return out


def create_from_json(c, principal: Principal, raw: bytearray | bytes) -> str:
    """Accept an order from its JSON text, reading the items one at a time (a 100,000-item order is
    never a list of 100,000 objects); the order's id. Answer it with `created_stream`. A bytearray
    is emptied once decoded, so the body is held once, as text."""
    _enterprise(principal)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8 JSON") from None
    if isinstance(raw, bytearray):
        raw.clear()
    try:
        return accept(c, principal, tmf_format.members(text, "productOrderItem"))
    except tmf_format.NotJson as exc:
        raise InvalidInput(str(exc)) from None


def _rows(store: OrderStore, ent: str, order_id: str, parsed: list[dict]) -> list[dict]:
    """The batch_items rows of one chunk of parsed items (their products looked up in two statements)."""
    lines = store.owned_lines(ent, sorted({p["msisdn"] for p in parsed if p["msisdn"]}))
    _check_numbers(parsed, lines, store, ent)
    subs = store.owned_subscriptions(ent, sorted({p["subscription_id"] for p in parsed if p["subscription_id"]}))
    rows = []
    for p in parsed:
        msisdn = p["msisdn"] if p["msisdn"] in lines else subs.get(p["subscription_id"] or "")
        row = {"batch_id": order_id, "position": p["index"] + 1, "msisdn": msisdn or "-", "blockers": [],
               "warnings": [], "item_ref": p["ref"], "action": p["action"], "item_kind": p["kind"],
               "subscription_id": p["subscription_id"], "error_code": None, "error_message": None}
        if msisdn is None:  # not this enterprise's, or no such product: the same answer
            row.update(error_code="PRODUCT_NOT_FOUND", error_message="no such product in this enterprise",
                       msisdn=(p["msisdn"] or "-")[:11])
        rows.append(row)
    return rows


def accept(c, principal: Principal, members) -> str:
    """Accept an order, all or nothing about its shape: `members` are the body's (name, value) pairs,
    the items possibly an iterator. Items are checked and written CHUNK at a time inside the one
    transaction, so memory does not grow with the order; any bad item refuses the whole order."""
    ent = _enterprise(principal)
    now = c.now()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # orderDate filters match to the millisecond
    order_id = str(uuid.uuid4())
    body: dict = {}
    with c.uow() as uow:
        uow.orders.start_order({"id": order_id, "enterprise_id": ent, "kind": "mixed", "created_by": principal.actor,
                                "created_at": now, "updated_at": now, "phase": BatchPhase.SUBMITTING, "size": 0,
                                "reason": None, "acknowledged_warnings": []})
        refs: set[str] = set()
        kinds: set[str] = set()
        total = accepted = 0
        refused: list[str] = []
        seen_items = False
        for key, value in members:
            if key != "productOrderItem":
                body[key] = value
                continue
            if seen_items:
                raise InvalidInput("productOrderItem is given twice", {"field": "productOrderItem"})
            seen_items = True
            if not isinstance(value, list) and not hasattr(value, "__next__"):
                raise InvalidInput("productOrderItem lists at least one item", {"field": "productOrderItem"})
            chunk: list[dict] = []
            for raw in value:
                if total >= MAX_ITEMS:
                    raise InvalidInput(f"at most {MAX_ITEMS} items in one order", {"field": "productOrderItem"})
                p = parse_item(total, raw)
                if p["ref"] in refs:  # within a chunk here; across chunks by the database below
                    raise InvalidInput(f"productOrderItem[{total}].id '{p['ref']}' is used twice",
                                       {"field": f"productOrderItem[{total}].id"})
                refs.add(p["ref"])
                p["index"] = total
                total += 1
                kinds.add(p["kind"])
                chunk.append(p)
                if len(chunk) == CHUNK:
                    accepted += _write(uow.orders, ent, order_id, chunk, refused)
                    chunk, refs = [], set()
            accepted += _write(uow.orders, ent, order_id, chunk, refused)
        if not total:
            raise InvalidInput("productOrderItem lists at least one item", {"field": "productOrderItem"})
        if total > CHUNK and (twice := uow.orders.first_repeated_ref(order_id)) is not None:
            ref, position = twice
            raise InvalidInput(f"productOrderItem[{position - 1}].id '{ref}' is used twice",
                               {"field": f"productOrderItem[{position - 1}].id"})
        requested = body.get("requestedCompletionDate")
        requested_at = parse_time(requested, "requestedCompletionDate") if requested is not None else None
        fields = {"external_id": text_field(body, "externalId", 200), "description": text_field(body, "description", 2000),
                  "category": text_field(body, "category", 100), "priority": text_field(body, "priority", 10)}
        related = _related_party(body, ent)
        if not accepted:
            raise InvalidInput("no product of this order belongs to the enterprise", {"items": refused[:50]},
                               code="PRODUCT_NOT_FOUND")
        uow.orders.finish_order({"id": order_id, "enterprise_id": ent, "state": "acknowledged", "order_date": now,
                                 "updated_at": now, "related_party": related, "requested_completion_date": requested_at,
                                 **fields}, size=total, kind=kinds.pop() if len(kinds) == 1 else "mixed",
                                reason=fields["description"])
        tmf_hubs.announce(c, uow, order_id, ent, "acknowledged", now)
        if accepted > LARGE_ORDER_OVER:
            tell_admins_of_large_order(c, uow, principal, order_id, accepted, now)
        uow.commit()
    return order_id


def _write(store: OrderStore, ent: str, order_id: str, chunk: list[dict], refused: list[str]) -> int:
    if not chunk:
        return 0
    rows = _rows(store, ent, order_id, chunk)
    store.add_items(rows)
    for r in rows:
        if r["error_code"] and len(refused) < 50:
            refused.append(r["item_ref"])
    return sum(1 for r in rows if not r["error_code"])


def created_stream(c, principal: Principal, order_id: str) -> Iterator[str]:
    """The answer to the creation, as JSON text in pieces: the order as created (every item
    `acknowledged`, or `rejected` with its note), read from the database CHUNK items at a time."""
    with c.uow() as uow:
        o = _owned(uow, principal, order_id)
    at = o.get("completion_date") or o["updated_at"]
    head = tmf_format.order({**o, "state": "acknowledged", "completion_date": None}, None)
    yield _dumps(head)[:-1]
    for name, refused_only, render in (("note", True, lambda r: tmf_format.created_note(r, at)),
                                       ("productOrderItem", False, tmf_format.created_item)):
        after, opened = 0, False
        while True:
            with c.uow() as uow:
                rows = uow.orders.item_rows(order_id, after, CHUNK, refused_only=refused_only)
            if not rows:
                break
            after = rows[-1]["position"]
            parts = ",".join(_dumps(render(r)) for r in rows)
            yield ("," if opened else f',"{name}":[') + parts
            opened = True
        if opened:
            yield "]"
    yield "}"


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _placed_by(principal: Principal, lang: str) -> str:
    if principal.login_msisdn:
        return mask_msisdn(principal.login_msisdn)
    key_id = principal.id.removeprefix("pk:")
    return (f"key cdpk_{key_id}_…" if lang == "en" else f"密钥 cdpk_{key_id}_…") if principal.id.startswith("pk:") \
        else principal.actor


def tell_admins_of_large_order(c, uow, principal: Principal, order_id: str, count: int, now) -> int:
    """An order ending more than LARGE_ORDER_OVER lines is told at once to each of the enterprise's admins
    (but the admin who placed it), one SMS each, in the language that admin last used."""
    sent = 0
    for msisdn, lang in uow.partner_api.admin_languages(principal.enterprise_id):
        if msisdn == principal.login_msisdn:
            continue
        lang = lang or ("en" if c.pack.locale.startswith("en") else "zh")
        notify(uow.repo, to=msisdn, event="large_order", ref=order_id[:8], at=now,
               dedup=f"large_order:{order_id}:{msisdn}", lang=lang, count=count, who=_placed_by(principal, lang))
        sent += 1
    return sent


def slices(size: int) -> list[tuple[int, int]]:
    """The first slice of each chain. A chain's task, when done, queues the slice CHAINS further on —
    behind the executions it queued — so a large order never holds every worker thread."""
    return [(start, min(start + SLICE - 1, size)) for start in range(1, size + 1, SLICE)][:CHAINS]


def next_slice(first: int, size: int) -> tuple[int, int] | None:
    start = first + CHAINS * SLICE
    return (start, min(start + SLICE - 1, size)) if start <= size else None


def first_slices(c, order_id: str) -> list[tuple[int, int]]:
    return slices(_load(c, order_id)["size"])


def process_slice(c, order_id: str, first: int, last: int) -> tuple[int, int] | None:
    """Run one slice; the chain's next slice (None at the end of the order)."""
    process(c, order_id, first, last)
    return next_slice(first, _load(c, order_id)["size"])


def principal_of(order: dict) -> Principal:
    """Who acts for a running order: the partner (key or admin) who placed it, on the partner channel."""
    role, _, ident = order["created_by"].partition(":")
    return Principal(kind="partner", id=ident, role=role, enterprise_id=order["enterprise_id"], via="partner")


def _load(c, order_id: str) -> dict:
    with c.uow() as uow:
        o = uow.orders.order(order_id)
    if o is None:
        raise NotFound("no such order")
    return o


def process(c, order_id: str, first: int = 1, last: int | None = None) -> None:
    """Create and confirm the requests of one slice of an order (resumable: done items are skipped)."""
    o = _load(c, order_id)
    if o["state"] in tmf_format.FINAL:
        return
    if o["state"] == "acknowledged":
        with c.uow() as uow:
            if uow.orders.move_state(order_id, "acknowledged", "inProgress", c.now(), final=False):
                tmf_hubs.announce(c, uow, order_id, o["enterprise_id"], "inProgress", c.now())
            uow.commit()
    batches.run_submit(c, principal_of(o), order_id, lang="zh", positions=(first, last or o["size"]))
    with c.uow() as uow:
        uow.orders.touch(order_id, c.now())
        uow.commit()


def _fill_blockers(c, o: dict) -> None:
    """A line that could not end: record its blockers (with what to do) for the order's notes."""
    p = principal_of(o)
    while True:
        with c.uow() as uow:
            todo = uow.orders.rejected_without_blockers(o["id"])
        if not todo:
            return
        found = []
        for r in todo:
            try:
                res = requests.precheck(c, p, r["item_kind"], r["msisdn"], r["subscription_id"])
                blockers = [b.as_dict() for b in res.blockers]
            except ServiceError as exc:
                blockers = [{"code": exc.code, "message": exc.message, "resolution": ""}]
            if not blockers:
                blockers = [{"code": code, "message": "", "resolution": ""} for code in r["reject_codes"] or []]
            found.append((r["id"], blockers))
        with c.uow() as uow:
            for item_id, blockers in found:
                uow.orders.set_item(item_id, eligible=False, blockers=blockers)
            uow.commit()


def refresh(c, order_id: str) -> str:
    """Derive the order's state from its requests; announce a change once. Returns the state."""
    o = _load(c, order_id)
    if o["state"] in tmf_format.FINAL:
        return o["state"]
    if o["state"] == "inProgress":  # its rows are being loaded: keep the planner's view of them current
        batches.keep_statistics(c)
    with c.uow() as uow:
        # a started order stays inProgress while any item is on its way (order_state): ask that first,
        # cheaply, and count every item by status only when none is (the order is about to end)
        if o["state"] == "inProgress" and uow.orders.any_waiting(order_id, tuple(sorted(tmf_format.MOVING))):
            return o["state"]
        counts = uow.orders.state_counts(order_id)
    state = tmf_format.order_state(counts, o["size"], started=o["state"] != "acknowledged")
    if state == o["state"]:
        return state
    final = state in tmf_format.FINAL
    if final:
        _fill_blockers(c, o)
    now = c.now()
    with c.uow() as uow:
        if uow.orders.move_state(order_id, o["state"], state, now, final=final):
            if final:
                batches._move(uow, order_id, BatchPhase.SUBMITTING, BatchPhase.SUBMITTED, now)
            tmf_hubs.announce(c, uow, order_id, o["enterprise_id"], state, now)
        uow.commit()
    return state


def stalled(c) -> list[tuple[str, list[tuple[int, int]]]]:
    """Orders not final and untouched for a while, with the slices still to submit (for the sweeper)."""
    with c.uow() as uow:
        ids = uow.orders.open_orders(c.now() - STALLED_AFTER)
        out = []
        for order_id in ids:
            positions = uow.orders.unsubmitted_positions(order_id)
            # chains from the first slice not done: together they cover every slice after it
            start = positions[0] - (positions[0] - 1) % SLICE if positions else None
            out.append((order_id, [] if start is None else
                        [(s, s + SLICE - 1) for s in range(start, start + CHAINS * SLICE, SLICE) if s <= positions[-1]]))
            uow.orders.touch(order_id, c.now())
        uow.commit()
    return out


# ---- reading ----------------------------------------------------------------------------------------
def _owned(uow, principal: Principal, order_id: str) -> dict:
    ent = _enterprise(principal)
    o = uow.orders.order(str(order_id)[:36])
    if o is None or o["enterprise_id"] != ent:
        raise NotFound(f"no product order with id {str(order_id)[:36]}")
    return o


def get(c, principal: Principal, order_id: str, fields: list[str] | None = None) -> dict:
    with c.uow() as uow:
        o = _owned(uow, principal, order_id)
        rows = uow.orders.items(o["id"])
    return tmf_format.pick(tmf_format.order(o, rows), fields)


def list_orders(c, principal: Principal, *, fields: list[str] | None, filters: dict, offset: int,
                limit: int) -> tuple[int, list[dict]]:
    ent = _enterprise(principal)
    where = {}
    for key, value in filters.items():
        if key == "orderDate":
            where["order_date"] = parse_time(value, "orderDate")
        else:
            where[ORDER_FIELDS[key]] = value
    with c.uow() as uow:
        total, orders = uow.orders.orders(ent, where, offset, limit)
        out = [tmf_format.pick(tmf_format.order(o, uow.orders.items(o["id"])), fields) for o in orders]
    return total, out
