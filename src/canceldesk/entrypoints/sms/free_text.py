"""Free text that is not an SMS command goes to the assistant (CHANNELS.md): the same proposal and
the same confirmation (`Y`/`是`/`确认`), on the sender's number only, through channel `sms`.

The assistant's conversation id is kept in the SMS conversation of the sender; `pending` says
that a proposal of the assistant (not a `0000` serial) waits for the `Y`.
"""
from __future__ import annotations

from canceldesk.service_layer import assistant
from canceldesk.service_layer.errors import NotFound

from .texts import KIND, STATUS, t

CHANNEL = "sms"
SMS_MAX_CHARS = 536   # as the `0000` list (dialog.SMS_MAX_CHARS): 8 segments of 67 UCS-2 characters
_HINTS = {"zh": " 回复“确认”办理，回复“算了”放弃。", "en": " Reply “confirm” to go ahead or “no” to leave it."}


def _ask(c, principal, msisdn: str, text: str, state: dict, lang: str, rules, confirm: bool = False) -> dict:
    held = state.get("assistant") or {}

    def may(kind: str) -> bool:
        return rules.may_start(kind) and not rules.factors(kind)

    kwargs = dict(confirm=confirm, lang=lang, current_msisdn=msisdn, channel=CHANNEL, only_msisdn=msisdn, may_start=may)
    try:
        return assistant.handle(c, principal, text, held.get("cid"), **kwargs)
    except NotFound:  # the assistant's conversation was purged: start a new one
        return assistant.handle(c, principal, text, None, **kwargs)


def _sms_text(out: dict, lang: str) -> str:
    reply = out["reply"]
    hint = _HINTS["en" if lang == "en" else "zh"]
    if reply.endswith(hint):  # the SMS way to confirm: Y / N, as for every other SMS proposal
        reply = reply[: -len(hint)] + "\n" + t("preview_foot", lang)
    body = ("[canceldesk] " if lang == "en" else "【canceldesk】") + reply
    if len(body) > SMS_MAX_CHARS:  # one long SMS at most: the rest is in the app
        more = t("marks_more", lang).replace("停用建议", "内容") if lang != "en" else "More in the app."
        body = body[: SMS_MAX_CHARS - len(more) - 1] + "…" + more
    return body


def asked_which(state: dict) -> bool:
    """The assistant asked "which one?" last: a bare serial answers it (not the `0000` list)."""
    return bool((state.get("assistant") or {}).get("asked"))


def awaits_confirmation(state: dict) -> bool:
    return bool((state.get("assistant") or {}).get("pending"))


def answer(c, principal, msisdn: str, text: str, state: dict, lang: str, rules) -> tuple[str, str | None] | None:
    """The assistant's reply, or None when it cannot tell what the text asks (the help text follows)."""
    out = _ask(c, principal, msisdn, text, state, lang, rules)
    proposal = out.get("proposal")
    pending = bool(proposal and proposal["impact"].get("eligible") and not out.get("refused"))
    asked = bool(out.get("candidates")) and proposal is None and out["intent"] != "query"
    state["assistant"] = {"cid": out["conversation_id"], "pending": pending, "asked": asked}
    if out["intent"] == "unknown" and not proposal and not out.get("candidates"):
        return None
    if pending:
        state.pop("pending", None)  # the newest proposal is the one a `Y` confirms
    return _sms_text(out, lang), None


def confirm(c, principal, msisdn: str, state: dict, lang: str, rules) -> tuple[str, str | None]:
    out = _ask(c, principal, msisdn, "", state, lang, rules, confirm=True)
    state["assistant"] = {"cid": out["conversation_id"], "pending": False}
    request = out.get("request") or {}
    if not request.get("tracking_no"):
        return _sms_text(out, lang), None
    ref, status = request["tracking_no"], request.get("status", "")
    body = t("follow", lang, ref=ref, kind=KIND[lang].get(out["intent"], out["intent"]),
             status=STATUS[lang].get(status, status)) + t("done_foot", lang)
    return body, ref


def decline(c, principal, msisdn: str, state: dict, lang: str, rules) -> str:
    _ask(c, principal, msisdn, "算了" if lang != "en" else "no", state, lang, rules)
    state["assistant"] = {**state["assistant"], "pending": False}
    return t("declined", lang)
