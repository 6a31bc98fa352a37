"""`POST /channels/ivr/voice`: the TwiML webhook a Twilio (or compatible) number points at.

Signed with `X-Twilio-Signature` exactly as Twilio signs (checked with the `twilio` package's
RequestValidator against CANCELDESK_PUBLIC_URL when set, else the URL as received); 403 when
it is wrong. Answers TwiML built with `twilio.twiml.voice_response`, never by concatenation.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

from canceldesk.service_layer.errors import Forbidden, InvalidInput, NotFound

from ..api.deps import ContainerDep
from . import calls
from .prompts import VOICE_LANG

router = APIRouter(tags=["channels"])
PATH = "/channels/ivr/voice"


def public_url(c, request: Request) -> str:
    """The URL the platform called (and signed): CANCELDESK_PUBLIC_URL + path when set."""
    base = c.settings.public_url.rstrip("/")
    if not base:
        return str(request.url)
    query = request.url.query
    return base + request.url.path + (f"?{query}" if query else "")


def action_url(c, request: Request) -> str:
    base = c.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return base + PATH


def render(turn: calls.Turn, action: str, agent: str) -> str:
    voice = VOICE_LANG[turn.lang]
    r = VoiceResponse()
    if turn.gather:
        opts = dict(input="dtmf speech", action=action, method="POST", language=voice, action_on_empty_result=False)
        if turn.gather == "password":
            g = Gather(finish_on_key="#", timeout=10, **opts)
        else:
            g = Gather(num_digits=1, timeout=6, **opts)
        for text in turn.say:
            g.say(text, language=voice)
        r.append(g)
        r.redirect(action, method="POST")  # no key within the timeout: the same webhook, without Digits
        return str(r)
    for text in turn.say:
        r.say(text, language=voice)
    if turn.dial:
        r.dial(agent)
    if turn.hangup:
        r.hangup()
    return str(r)


@router.post(PATH, summary="Voice platform webhook (TwiML): the phone menus")
async def voice(request: Request, c: ContainerDep):
    token = c.settings.ivr_token
    if not token:
        raise NotFound("not found")
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not RequestValidator(token).validate(public_url(c, request), params, signature):
        raise Forbidden("missing or wrong X-Twilio-Signature", code="BAD_SIGNATURE")
    call_sid, caller = params.get("CallSid", ""), params.get("From", "")
    if not (0 < len(call_sid) <= 64) or not call_sid.isalnum():
        raise InvalidInput("CallSid is required (letters and digits, at most 64)", {"field": "CallSid"})
    if len(caller) > 32:
        raise InvalidInput("From is a phone number", {"field": "From"})
    digits = params.get("Digits")
    if digits is not None and (len(digits) > 32 or not all(ch in "0123456789*#" for ch in digits)):
        digits = "?"  # not a key on a phone: treated as a wrong key
    # SpeechResult: there is no assistant to hand it to yet, so speech counts as no input.
    turn = await run_in_threadpool(calls.handle, c, call_sid, caller, digits)
    return Response(content=render(turn, action_url(c, request), c.settings.ivr_agent), media_type="application/xml")
