"""What a termination request looks like at the service layer's edges: the command a channel builds
(`NewRequest`), parsing of its kind and number, its body hash (idempotency), tracking numbers, and the
API's view of a request (`request_public`, `confirmed_view`). `requests.py` re-exports them: the use cases live there."""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from canceldesk.domain import localtime
from canceldesk.domain.identifiers import InvalidIdentifier, normalize_msisdn
from canceldesk.domain.lifecycle import Request, RequestKind, Status
from canceldesk.domain.present import localize

from .errors import InvalidInput


@dataclass
class NewRequest:
    kind: str
    msisdn: str
    subscription_id: str | None = None
    reason: str | None = None
    acknowledged_warnings: tuple[str, ...] = ()
    idempotency_key: str | None = None
    in_person_document: dict | None = None  # counter: {"type", "number"} checked against the owner
    batch_id: str | None = None
    channel: str | None = None  # sms / ivr / assistant override the principal's default channel
    lang: str = "zh"
    one_step: bool = False  # the caller showed the effect and confirms now: create and accept together
    confirm_follows: bool = False  # the caller confirms at once (SMS "Y"): no "needs your action" notice


def parse_kind(kind: object) -> str:
    try:
        return str(RequestKind(kind))
    except ValueError:
        raise InvalidInput(f"unknown kind {str(kind)[:40]!r}; use one of {', '.join(k.value for k in RequestKind)}",
                           {"field": "kind"}) from None


def parse_msisdn(raw: object) -> str:
    try:
        return normalize_msisdn(raw)
    except InvalidIdentifier as exc:
        raise InvalidInput(exc.message, {"field": exc.field}) from None


def request_body_hash(cmd: NewRequest) -> str:
    body = {"kind": cmd.kind, "msisdn": cmd.msisdn, "subscription_id": cmd.subscription_id, "reason": cmd.reason,
            "acknowledged_warnings": sorted(cmd.acknowledged_warnings)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def new_tracking_no(now) -> str:
    return f"CD{now:%Y%m%d}{secrets.token_hex(4).upper()}"


def request_public(req: Request, steps: dict | None = None, *, tz: str = "Asia/Shanghai", lang: str = "zh") -> dict:
    """The API's view: times in ISO 8601 with the pack's local offset, words in the reader's language."""
    def at(value):
        return localtime.iso(value, tz)

    out = {"id": req.id, "tracking_no": req.tracking_no, "kind": req.kind, "msisdn": req.msisdn,
           "subscription_id": req.subscription_id, "status": req.status, "channel": req.channel,
           "created_at": at(req.created_at), "deadline_at": at(req.deadline_at), "completed_at": at(req.completed_at),
           "reject_codes": req.reject_codes, "impact": localize(req.impact, lang), "failure": req.failure,
           "timeline": [{**t.as_dict(), "at": at(t.at)} for t in req.timeline]}
    if steps is not None:
        # In the kind's plan order, with the steps not reached yet shown as pending: the subscriber
        # sees the whole road and how far along it the request is.
        from canceldesk.domain.execution import plan_for
        out["steps"] = [{"step": str(name), "status": steps[name].status if name in steps else "pending",
                         "attempts": steps[name].attempts if name in steps else 0,
                         "error": steps[name].error if name in steps else None} for name in plan_for(req.kind)]
    return out


def confirmed_view(c, req: Request, lang: str = "zh") -> dict:
    """The answer to a confirmation: the request as `confirm` committed it, with its steps all still
    pending (a request reaches execution only through this confirmation, so it has none yet). Where
    the execution already ran inside the call (`executes_inline`: no queue, tests, scripts), the
    request as it stands now, read again with its steps."""
    if req.status == Status.EXECUTING and c.executes_inline:
        with c.uow(readonly=True) as uow:
            now = uow.repo.request(req.tracking_no)
            return request_public(now, uow.repo.steps(now.id), tz=c.pack.timezone, lang=lang)
    return request_public(req, {}, tz=c.pack.timezone, lang=lang)
