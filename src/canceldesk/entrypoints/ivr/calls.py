"""The phone menus: one webhook call (CallSid, From, Digits) → the next thing the caller hears.

State per CallSid lives in the database (channel_conversations), so any worker answers the next
key press. Menus:

    top: 1 paid services · 2 stop an auto-renewal · 3 close this number · 9 English/中文 · 0 agent
    services / renewals: "按 N …" per item, * back → item: impact, 1 confirm, 2 back
    close: impact and blockers, 1 confirm → the service password by keypad (pack data) → accepted

`0` reaches an agent from every menu; a caller aged 65+ hears the agent option first; no input
or a wrong key repeats the prompt twice, then the call goes to an agent. Speech is not
understood yet: a `SpeechResult` counts as no input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from canceldesk.service_layer import channels
from canceldesk.service_layer.errors import ServiceError

from .prompts import KIND, PERIOD, money, p, spoken_ref

CHANNEL = "ivr"
MAX_ITEMS = 8          # keys 1–8: 9 is the language, 0 the agent
MISSES_BEFORE_AGENT = 2


@dataclass
class Turn:
    lang: str
    say: list[str] = field(default_factory=list)
    gather: str | None = "key"   # "key" (one key), "password" (digits then #), None (no input expected)
    dial: bool = False
    hangup: bool = False


def _key(call_sid: str) -> str:
    return f"ivr:{call_sid}"


def handle(c, call_sid: str, caller: str, digits: str | None) -> Turn:
    conv = channels.load_conversation(c, _key(call_sid))
    if conv is None:
        state, turn = _start(c, caller)
    else:
        state = dict(conv["state"])
        turn = _next(c, state, (digits or "").strip())
    state["call"] = call_sid
    if turn.dial:
        state["menu"] = "agent"
    channels.save_conversation(c, _key(call_sid), CHANNEL, state.get("msisdn") or caller[:32], state["lang"], state)
    return turn


def _start(c, caller: str) -> tuple[dict, Turn]:
    lang = channels.lang_of_pack(c)
    principal = channels.principal_for_number(c, caller, via=CHANNEL)
    if principal is None:
        state = {"menu": "unknown", "lang": lang, "misses": 0, "msisdn": None, "senior": False}
        return state, Turn(lang, [p("not_served", lang)])
    age = channels.age_of(c, principal)
    threshold = channels.rules(c, CHANNEL).agent_first_age
    state = {"menu": "top", "lang": lang, "misses": 0, "msisdn": principal.login_msisdn,
             "senior": bool(threshold is not None and age is not None and age >= threshold)}
    return state, Turn(lang, [p("welcome", lang), *_prompt(c, state)])


def _principal(c, state: dict):
    return channels.principal_for_number(c, state["msisdn"], via=CHANNEL) if state.get("msisdn") else None


def _prompt(c, state: dict) -> list[str]:
    """What the current menu says (used for the first time and for every repeat)."""
    lang, menu = state["lang"], state["menu"]
    if menu == "unknown":
        return [p("not_served", lang)]
    if menu == "top":
        return [p("top_senior" if state.get("senior") else "top", lang)]
    if menu in ("services", "renewals"):
        items = [p("item", lang, name=i["name"], period=PERIOD[lang].get(i["period"], i["period"]),
                   price=money(i["price"], lang), n=n) for n, i in enumerate(state["items"], start=1)]
        return [*items, p("list_foot", lang)]
    if menu in ("item", "close"):
        return [*state.get("impact", []), p("confirm", lang)]
    if menu == "password":
        return [p("password", lang)]
    return [p("top", lang)]


def _agent(lang: str, key: str = "to_agent") -> Turn:
    return Turn(lang, [p(key, lang)], gather=None, dial=True)


def _miss(c, state: dict, what: str) -> Turn:
    state["misses"] = state.get("misses", 0) + 1
    if state["misses"] > MISSES_BEFORE_AGENT:
        return _agent(state["lang"], "agent_offer")
    return Turn(state["lang"], [p(what, state["lang"]), *_prompt(c, state)],
                gather="password" if state["menu"] == "password" else "key")


def _next(c, state: dict, digits: str) -> Turn:
    lang = state["lang"]
    if state["menu"] == "agent":
        return _agent(lang)
    if digits == "0":
        return _agent(lang)
    if not digits:
        return _miss(c, state, "no_input")
    if state["menu"] == "password":
        return _password(c, state, digits)
    if digits == "9":
        state["lang"] = "en" if lang == "zh" else "zh"
        state["misses"] = 0
        return Turn(state["lang"], _prompt(c, state))
    handler = {"top": _top, "services": _pick, "renewals": _pick, "item": _item, "close": _close}.get(state["menu"])
    turn = handler(c, state, digits) if handler else None
    if turn is None:
        return _miss(c, state, "wrong_key")
    state["misses"] = 0
    return turn


def _top(c, state: dict, key: str) -> Turn | None:
    lang = state["lang"]
    principal = _principal(c, state)
    if principal is None or key not in ("1", "2", "3"):
        return None
    if key == "3":
        return _close_preview(c, state, principal)
    services = channels.paid_services(c, principal, state["msisdn"], lang)
    if key == "2":
        services = [s for s in services if s.auto_renew]
    if not services:
        return Turn(lang, [p("no_renewals" if key == "2" else "no_services", lang), *_prompt(c, state)])
    state["menu"] = "renewals" if key == "2" else "services"
    state["items"] = [{"id": s.subscription_id, "name": s.name, "price": s.price, "period": s.period}
                      for s in services[:MAX_ITEMS]]
    return Turn(lang, _prompt(c, state))


def _pick(c, state: dict, key: str) -> Turn | None:
    lang = state["lang"]
    if key == "*":
        state["menu"] = "top"
        return Turn(lang, _prompt(c, state))
    if not key.isdigit() or not 1 <= int(key) <= len(state["items"]):
        return None
    item = state["items"][int(key) - 1]
    kind = "cancel_renewal" if state["menu"] == "renewals" else "unsubscribe"
    principal = _principal(c, state)
    try:
        result = channels.preview(c, principal, kind, state["msisdn"], item["id"], lang)
    except ServiceError as exc:
        return Turn(lang, [p("failed", lang, message=exc.message), *_prompt(c, state)])
    if not result.eligible:
        b = result.blockers[0]
        return Turn(lang, [p("blocked", lang, message=b.message, resolution=b.resolution), *_prompt(c, state)])
    refund = result.impact.get("refund", {}).get("amount", 0)
    refund_text = p("refund", lang, amount=money(refund, lang)) if refund else p("no_refund", lang)
    access = result.impact.get("access_ends_at")
    if access and access != "on completion":
        last_day = (datetime.fromisoformat(access).date() - timedelta(days=1)).isoformat()
        impact = p("impact_access", lang, kind=KIND[lang][kind], name=item["name"], date=last_day, refund=refund_text)
    else:
        impact = p("impact_now", lang, kind=KIND[lang][kind], name=item["name"], refund=refund_text)
    state.update(back=state["menu"], menu="item", kind=kind, selected=item["id"], warnings=result.warning_codes,
                 impact=[impact, *(p("warning", lang, message=w.message) for w in result.warnings)])
    return Turn(lang, _prompt(c, state))


def _item(c, state: dict, key: str) -> Turn | None:
    lang = state["lang"]
    if key == "2":
        state["menu"] = state.get("back", "services")
        return Turn(lang, _prompt(c, state))
    if key != "1":
        return None
    sub_id, kind = state["selected"], state["kind"]
    state["menu"] = "top"
    try:
        req = channels.end(c, _principal(c, state), kind, state["msisdn"], sub_id,
                           idempotency_key=f"ivr:{state['call']}:{kind}:{sub_id}",
                           acknowledged_warnings=tuple(state.get("warnings", ())), lang=lang)
    except ServiceError as exc:
        return Turn(lang, [p("failed", lang, message=exc.message), *_prompt(c, state)])
    return Turn(lang, [p("accepted", lang, ref=spoken_ref(req.tracking_no)), *_prompt(c, state)])


def _close_preview(c, state: dict, principal) -> Turn:
    lang = state["lang"]
    if not channels.rules(c, CHANNEL).may_start("close_line"):
        return Turn(lang, [p("not_allowed", lang), *_prompt(c, state)])
    result = channels.preview(c, principal, "close_line", state["msisdn"], None, lang)
    if not result.eligible:
        said = [p("blocked", lang, message=b.message, resolution=b.resolution) for b in result.blockers]
        return Turn(lang, [*said, *_prompt(c, state)])
    refund = result.impact.get("refund", {}).get("amount", 0)
    refund_text = p("refund", lang, amount=money(refund, lang)) if refund else p("no_refund", lang)
    state.update(menu="close", kind="close_line", warnings=result.warning_codes,
                 impact=[p("close_impact", lang, days=c.pack.freeze_days, refund=refund_text),
                         *(p("warning", lang, message=w.message) for w in result.warnings)])
    return Turn(lang, _prompt(c, state))


def _close(c, state: dict, key: str) -> Turn | None:
    lang = state["lang"]
    if key == "2":
        state["menu"] = "top"
        return Turn(lang, _prompt(c, state))
    if key != "1":
        return None
    if channels.rules(c, CHANNEL).factors("close_line"):
        state["menu"] = "password"
        return Turn(lang, _prompt(c, state), gather="password")
    return _close_now(c, state, {})


def _password(c, state: dict, digits: str) -> Turn:
    password = digits.rstrip("#")
    if not password.isdigit():
        return _miss(c, state, "password_wrong")
    return _close_now(c, state, {"service_password": password})


def _close_now(c, state: dict, verification: dict) -> Turn:
    lang = state["lang"]
    principal = _principal(c, state)
    try:
        if state.get("tracking_no"):
            req = channels.confirm_pending(c, principal, state["tracking_no"], verification, lang)
        else:
            req = channels.end(c, principal, "close_line", state["msisdn"], None,
                               idempotency_key=f"ivr:{state['call']}:close_line",
                               acknowledged_warnings=tuple(state.get("warnings", ())), verification=verification,
                               lang=lang)
    except ServiceError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        if details.get("tracking_no"):
            state["tracking_no"] = details["tracking_no"]
        if exc.code == "STEP_UP_FAILED":
            return _miss(c, state, "password_wrong")
        if exc.code == "STEP_UP_LOCKED":
            return Turn(lang, [p("password_locked", lang), p("to_agent", lang)], gather=None, dial=True)
        state["menu"] = "top"
        return Turn(lang, [p("failed", lang, message=exc.message), *_prompt(c, state)])
    state["menu"] = "done"
    return Turn(lang, [p("close_accepted", lang, ref=spoken_ref(req.tracking_no))], gather=None, hangup=True)
