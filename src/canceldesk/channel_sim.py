"""`canceldesk sms` and `canceldesk call`: play the SMS centre and the voice platform against a running
server, signing each request exactly as the real platforms do — so a newcomer can send `0000` and
press keys without a real number. The replies are read back from /dev/outbox (demo/test only).
"""
from __future__ import annotations

import json
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Callable, Iterable

import httpx

from canceldesk.domain.identifiers import normalize_msisdn


def _outbox(client: httpx.Client, msisdn: str) -> list[dict]:
    r = client.get("/dev/outbox", params={"to": msisdn})
    if r.status_code != 200:
        raise SystemExit("GET /dev/outbox failed: the simulators need a server in demo or test mode")
    return r.json()["messages"]


def send_sms(client: httpx.Client, secret: str, sender: str, text: str, to: str = "10086",
             wait_seconds: float = 5.0, out: Callable[[str], None] = print) -> list[dict]:
    """Post one mobile-originated message, signed; print and return what came back."""
    from canceldesk.entrypoints.sms.router import signature_of
    seen = {m["id"] for m in _outbox(client, sender)}
    body = json.dumps({"from": sender, "to": to, "text": text, "message_id": f"sim-{uuid.uuid4().hex}"},
                      ensure_ascii=False).encode()
    r = client.post("/channels/sms/inbound", content=body,
                    headers={"Content-Type": "application/json", "X-Canceldesk-Signature": signature_of(secret, body)})
    if r.status_code != 202:
        out(f"!! the server answered {r.status_code}: {r.text[:300]}")
        return []
    deadline = time.monotonic() + wait_seconds
    new: list[dict] = []
    while time.monotonic() < deadline:
        new = [m for m in _outbox(client, sender) if m["id"] not in seen]
        if any(m["event"] == "sms_reply" for m in new):
            time.sleep(0.3)  # notices written in the same step (accepted, completed) follow closely
            new = [m for m in _outbox(client, sender) if m["id"] not in seen]
            break
        time.sleep(0.2)
    for m in new:
        label = "" if m["event"] == "sms_reply" else f"[{m['event']}] "
        out(f"<< {label}{m['text']}")
    if not new:
        out("<< (no reply yet: is the worker running? `make demo` starts it)")
    return new


def run_sms(base_url: str, secret: str, sender: str, texts: Iterable[str] | None,
            ask: Callable[[str], str] = input) -> int:
    sender = normalize_msisdn(sender, "--from")
    with httpx.Client(base_url=base_url, timeout=15) as client:
        if texts:
            for text in texts:
                print(f">> {text}")
                send_sms(client, secret, sender, text)
            return 0
        print(f"SMS from {sender} to 10086. Type a message (0000, 1,3, Y, 取消2, CXXZ#姓名#证件号码); empty line quits.")
        while True:
            try:
                text = ask(">> ").strip()
            except EOFError:
                return 0
            if not text:
                return 0
            send_sms(client, secret, sender, text)


def _twiml_turn(xml_text: str) -> tuple[list[str], str | None, str | None, bool]:
    root = ET.fromstring(xml_text)
    says = [s.text or "" for s in root.iter("Say")]
    gather = root.find("Gather")
    action = gather.get("action") if gather is not None else None
    dial = root.find("Dial")
    return says, action, (dial.text if dial is not None else None), root.find("Hangup") is not None


def run_call(base_url: str, token: str, caller: str, keys: list[str] | None,
             ask: Callable[[str], str] = input, out: Callable[[str], None] = print) -> int:
    """One phone call: the first webhook, then one per key press (empty = silence), signed with
    X-Twilio-Signature by the twilio package. `keys`: press these and hang up (non-interactive)."""
    from twilio.request_validator import RequestValidator
    number = "+86" + normalize_msisdn(caller, "--from")
    sid = "CA" + uuid.uuid4().hex
    url = base_url.rstrip("/") + "/channels/ivr/voice"
    validator = RequestValidator(token)
    queue = list(keys) if keys is not None else None
    digits: str | None = None
    with httpx.Client(timeout=15) as client:
        while True:
            params = {"CallSid": sid, "From": number, "To": "+8610086", "CallStatus": "in-progress"}
            if digits:
                params["Digits"] = digits
            r = client.post(url, data=params, headers={"X-Twilio-Signature": validator.compute_signature(url, params)})
            if r.status_code != 200:
                out(f"!! the server answered {r.status_code}: {r.text[:300]}")
                return 1
            says, action, dial, hangup = _twiml_turn(r.text)
            for s in says:
                out(f"🔊 {s}")
            if dial:
                out(f"☎  transferred to the agent line {dial}")
                return 0
            if hangup or action is None:
                out("☎  the call ended")
                return 0
            url = action
            if queue is not None:
                if not queue:
                    out("☎  you hung up")
                    return 0
                digits = queue.pop(0)
                out(f"⌨  {digits or '(silence)'}")
                continue
            try:
                digits = ask("⌨  keys (empty = silence, q = hang up): ").strip()
            except EOFError:
                return 0
            if digits.lower() == "q":
                return 0


def main_sms(settings, args) -> int:
    secret = settings.sms_secret
    if not secret:
        print("CANCELDESK_SMS_WEBHOOK_SECRET is not set: the SMS channel is off", file=sys.stderr)
        return 2
    return run_sms(args.url or _base(settings), secret, args.sender, args.text or None)


def main_call(settings, args) -> int:
    token = settings.ivr_token
    if not token:
        print("CANCELDESK_IVR_AUTH_TOKEN is not set: the phone channel is off", file=sys.stderr)
        return 2
    keys = [k.strip() for k in args.keys.split(",")] if args.keys is not None else None
    return run_call(args.url or _base(settings), token, args.sender, keys)


def _base(settings) -> str:
    return settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
