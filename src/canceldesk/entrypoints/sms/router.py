"""`POST /channels/sms/inbound`: the SMS centre's (aggregator's) webhook for mobile-originated messages.

Signed with `X-Canceldesk-Signature: sha256=<hex HMAC-SHA256 of the raw body>`; 401 without a
valid signature (nothing happens); the same `message_id` twice is processed once. Outside
demo/test the endpoint does not exist (404) until CANCELDESK_SMS_WEBHOOK_SECRET is set.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from canceldesk.domain.identifiers import InvalidIdentifier, normalize_msisdn
from canceldesk.service_layer.errors import InvalidInput, NotFound, Unauthorized

from ..api.deps import ContainerDep
from . import dialog

router = APIRouter(tags=["channels"])
FIELDS = {"from", "to", "text", "message_id", "received_at"}


def signature_of(secret: str, body: bytes) -> str:
    """What the SMS centre sends in X-Canceldesk-Signature (also used by `canceldesk sms`)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _parse(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the body must be a JSON object: {from, to, text, message_id, received_at?}") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object: {from, to, text, message_id, received_at?}")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(unknown)}", {"fields": unknown})
    for f in ("from", "to", "text", "message_id"):
        if not isinstance(data.get(f), str):
            raise InvalidInput(f"{f} is required and must be a string", {"field": f})
    if not (0 < len(data["message_id"]) <= 128) or not data["message_id"].isprintable():
        raise InvalidInput("message_id has 1–128 printable characters", {"field": "message_id"})
    if len(data["text"]) > 1000:
        raise InvalidInput("text is at most 1000 characters (a long message is joined by the SMS centre)",
                           {"field": "text"})
    if data.get("received_at") is not None:
        try:
            datetime.fromisoformat(str(data["received_at"]).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("received_at must be ISO 8601, e.g. 2026-11-12T08:00:00Z", {"field": "received_at"}) from None
    try:
        data["from"] = normalize_msisdn(data["from"], "from")
    except InvalidIdentifier as exc:
        raise InvalidInput(exc.message, {"field": exc.field}) from None
    return data


@router.post("/channels/sms/inbound", status_code=202, summary="SMS centre webhook: one mobile-originated message")
async def inbound(request: Request, c: ContainerDep):
    secret = c.settings.sms_secret
    if not secret:
        raise NotFound("not found")
    body = await request.body()
    given = request.headers.get("x-canceldesk-signature", "")
    if not given or not hmac.compare_digest(signature_of(secret, body).encode(), given.encode()):
        raise Unauthorized("missing or wrong X-Canceldesk-Signature (sha256=HMAC-SHA256 of the raw body)",
                           code="BAD_SIGNATURE")
    data = _parse(body)
    await run_in_threadpool(dialog.handle, c, data["from"], data["text"], data["message_id"])
    return JSONResponse(status_code=202, content={"accepted": True})
