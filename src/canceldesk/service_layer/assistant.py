"""The assistant: a subscriber's own words → a proposal on one of their own things → confirmed → a request.

Nothing is created or ended by understanding alone. A proposal is the same pre-check every channel
uses (`requests.precheck`) and is kept in the conversation; only a confirmation in the same
conversation creates and confirms the request, through the very `create_request`/`confirm` the
portal uses (channel `assistant`). Only the caller's own lines and subscriptions are ever
matched or named (domain/intent.py is given nothing else).
"""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

from canceldesk.domain.identifiers import mask_msisdn
from canceldesk.domain.intent import Target, Understanding, is_confirmation, is_decline, understand
from canceldesk.domain.money import format_money

from . import requests
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .principal import Principal
from .selfservice import ENDINGS

MAX_TEXT = 500
PROPOSAL_MINUTES = 10
CHANNEL = "assistant"
_SERIAL = re.compile(r"^\s*(?:第)?([1-9])\s*(?:个|号|項|项)?\s*$")


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def my_targets(uow, principal: Principal, only_msisdn: str | None = None) -> list[Target]:
    """The only things the assistant may match: the caller's own lines and their subscriptions
    (only the one number a channel such as SMS or IVR acts on, when `only_msisdn` is given)."""
    out: list[Target] = []
    for line in uow.repo.lines_of(principal.id):
        if line.status in ("frozen", "recyclable") or (only_msisdn and line.msisdn != only_msisdn):
            continue
        subs = uow.repo.subscriptions_with_products(line.msisdn)
        plan = next((p.name_zh for s, p in subs if p.kind == "plan" and s.is_active), "")
        out.append(Target(msisdn=line.msisdn, active=line.is_active, is_secondary=bool(line.primary_msisdn),
                          plan_name=plan))
        for s, p in subs:
            out.append(Target(msisdn=line.msisdn, subscription_id=s.id, product_kind=p.kind, name_zh=p.name_zh,
                              name_en=p.name_en, partner=p.partner, price=p.price, period=p.period,
                              auto_renew=s.auto_renew, active=s.is_active and line.is_active, currency=p.currency))
    return out


def _money(amount: int, lang: str, currency: str = "CNY") -> str:
    return format_money(amount, currency, lang)


def _label(tg: Target, lang: str) -> str:
    if tg.is_line:
        return mask_msisdn(tg.msisdn) + (f"（{tg.plan_name}）" if tg.plan_name and lang != "en" else "")
    per = {"month": _t(lang, "月", "month"), "year": _t(lang, "年", "year")}.get(tg.period, tg.period)
    return f"{tg.name(lang)} {_money(tg.price, lang, tg.currency)}/{per}"


def _candidate(tg: Target, lang: str) -> dict:
    return {"msisdn": mask_msisdn(tg.msisdn), "subscription_id": tg.subscription_id, "name": _label(tg, lang)}


def handle(c, principal: Principal, text: object, conversation_id: object = None, confirm: bool = False,
           lang: str = "zh", current_msisdn: str | None = None, channel: str = CHANNEL,
           only_msisdn: str | None = None, may_start=None) -> dict:
    """One message of a conversation. `channel` is the channel the text came by (assistant, sms, ivr):
    it is recorded on the conversation and on every request a confirmation creates. A channel that
    acts on one number passes it as `only_msisdn`; `may_start(kind)` says which kinds it may start."""
    if not principal.is_subscriber:
        raise Forbidden("the assistant answers subscribers about their own lines")
    if text is None:
        text = ""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise InvalidInput(f"text must be a string of at most {MAX_TEXT} characters", {"field": "text"})
    if not text.strip() and not confirm:
        raise InvalidInput("say what you would like to do (text)", {"field": "text"}, code="TEXT_REQUIRED")
    if conversation_id is not None and (not isinstance(conversation_id, str) or len(conversation_id) > 36):
        raise InvalidInput("conversation_id is the id an earlier answer gave", {"field": "conversation_id"})
    now = c.now()
    with c.uow() as uow:
        convo = uow.insights.conversation(conversation_id) if conversation_id else None
        if conversation_id and (convo is None or convo["customer_id"] != principal.id):
            raise NotFound("no such conversation")
        state = dict(convo["state"]) if convo else {}
        targets = my_targets(uow, principal, only_msisdn)
    pending = state.get("pending")
    if pending and now.timestamp() > pending["expires"]:
        pending = state.pop("pending")
        pending = None
    if pending and (confirm or is_confirmation(text)):
        out = _execute(c, principal, pending, lang, channel)
        state.pop("pending", None)
    elif pending and is_decline(text):
        state.pop("pending", None)
        out = _answer("unknown", _t(lang, "好的，什么都没有办理。", "OK — nothing was changed."))
        out["intent"] = pending["kind"]
    elif confirm or is_confirmation(text):
        out = _answer("unknown", _t(lang, "没有待确认的办理。请先说明要办理什么。",
                                    "There is nothing waiting for confirmation. Say what you would like to do first."))
    else:
        u = _follow_up(state, text, targets) or understand(text, targets, current_msisdn)
        out, state = _respond(c, principal, u, targets, state, lang, now, may_start)
    cid = conversation_id or str(uuid.uuid4())
    with c.uow() as uow:
        uow.insights.save_conversation(id=cid, customer_id=principal.id, channel=channel,
                                       state=state, now=now, new=convo is None)
        uow.commit()
    return {"conversation_id": cid, **out}


def _answer(intent: str, reply: str, **extra) -> dict:
    return {"reply": reply, "intent": intent, "proposal": None, "request": None, **extra}


def _follow_up(state: dict, text: str, targets: list[Target]) -> Understanding | None:
    """An answer to "which one?": a serial ("2", "第一个") or words that pick among the candidates."""
    asked = state.get("asked")
    if not asked:
        return None
    pool = [tg for tg in targets if (tg.subscription_id or tg.msisdn) in asked["candidates"]]
    m = _SERIAL.match(text)
    if m and int(m.group(1)) <= len(asked["candidates"]):
        key = asked["candidates"][int(m.group(1)) - 1]
        chosen = next((tg for tg in pool if (tg.subscription_id or tg.msisdn) == key), None)
        return Understanding(asked["intent"], target=chosen, candidates=(chosen,)) if chosen else None
    u = understand(text, pool)
    if u.intent in ("unknown", "query", asked["intent"]) and u.target is not None:
        return Understanding(asked["intent"], target=u.target, candidates=u.candidates)
    return None


def understand_for(c, principal: Principal, text: str, only_msisdn: str) -> Understanding:
    """What a channel's free input (IVR speech) asks for, on that one number only; nothing is done."""
    if not principal.is_subscriber or not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return Understanding("unknown", note="not_applicable")
    with c.uow() as uow:
        targets = my_targets(uow, principal, only_msisdn)
    return understand(text, targets, only_msisdn)


def _respond(c, principal: Principal, u: Understanding, targets: list[Target], state: dict, lang: str, now,
             may_start=None):
    state = {k: v for k, v in state.items() if k not in ("pending", "asked")}
    if u.note == "not_yours":
        shown = "、".join(mask_msisdn(n) if len(n) == 11 else n for n in u.foreign)
        return _answer(u.intent, _t(
            lang, f"我只能办理您本人实名名下的号码和业务{('（' + shown + ' 不在您名下）') if shown else ''}。"
                  "如需办理他人的号码，请机主本人登录办理，或携带机主证件到营业厅。",
            f"I can only act on lines and services registered to you{(' (' + shown + ' is not yours)') if shown else ''}. "
            "The owner must ask themselves, or visit a store with the owner's ID."), refused=True), state
    if u.intent == "human":
        return _answer("human", _t(lang, "正在为您转接人工客服，请稍候；也可拨打 10086 按 0 转人工。",
                                   "Connecting you to a human agent; you can also call 10086 and press 0."),
                       route="agent"), state
    if u.intent == "complaint":
        return _answer("complaint", _t(
            lang, "很抱歉给您带来不便。您可以在“我的申请”中打开对应申请提交投诉或申诉，工作人员会书面答复；如需马上沟通，回复“人工”。",
            "Sorry about that. Open the request under “My requests” to file a complaint or appeal — staff answer in "
            "writing. Reply “agent” to talk to a person now."), route="complaint"), state
    if u.intent == "query":
        return _answer("query", _list_reply(targets, lang), candidates=[
            _candidate(tg, lang) for tg in targets if not tg.is_line and tg.active and tg.product_kind != "plan"]), state
    if u.intent == "unknown":
        return _answer("unknown", _t(
            lang, "我可以帮您退订业务、取消自动续费、办理销户，或查询您开通的业务。例如：“帮我把视频会员的自动续费关了”。",
            "I can unsubscribe a service, stop an auto-renewal, close a number, or list what you pay for. "
            "For example: “stop renewing my video membership”.")), state
    if u.target is None:
        listed = list(u.candidates)
        state["asked"] = {"intent": u.intent, "candidates": [tg.subscription_id or tg.msisdn for tg in listed]}
        if not listed:
            return _answer(u.intent, _t(lang, "您名下没有可以这样办理的业务。回复“查询”看看您开通的业务。",
                                        "You have nothing that this applies to. Say “list” to see what you pay for.")), state
        names = "；".join(f"{i}. {_label(tg, lang)}" for i, tg in enumerate(listed, 1))
        head = _t(lang, "没找到完全对应的业务，您是指哪一个？", "I could not find that exactly — which one do you mean? ") \
            if u.note == "no_match" else _t(lang, "您是指哪一个？", "Which one do you mean? ")
        if u.note == "several":
            head = _t(lang, "一次办理一项，先办理哪一个？", "One at a time — which one first? ")
        return _answer(u.intent, head + names + _t(lang, "（回复序号或名称）", " (reply with the number or the name)"),
                       candidates=[_candidate(tg, lang) for tg in listed]), state
    if may_start is not None and not may_start(_kind_for(u.intent, u.target)):
        return _answer(u.intent, _t(lang, "这项办理不能通过此渠道完成，请在App、营业厅或拨打客服电话办理。",
                                    "This cannot be done on this channel; use the app, a store or call us."),
                       refused=True), state
    return _propose(c, principal, u, state, lang, now)


def kind_for(intent: str, tg: Target) -> str:
    """The request kind an intent means for this target (a VAS has no renewal of its own to stop)."""
    return _kind_for(intent, tg)


def _kind_for(intent: str, tg: Target) -> str:
    if intent == "close_line":
        return "close_line"
    allowed = ENDINGS.get(tg.product_kind or "", ())
    return intent if intent in allowed else (allowed[0] if allowed else intent)


def _propose(c, principal: Principal, u: Understanding, state: dict, lang: str, now):
    tg = u.target
    kind = _kind_for(u.intent, tg)
    if kind == "cancel_renewal" and not tg.auto_renew:
        return _answer(u.intent, _t(lang, f"{_label(tg, lang)} 已经不会自动续费，到期后自然结束，无需办理。",
                                    f"{_label(tg, lang)} already will not renew; it simply ends with its period.")), state
    result = requests.precheck(c, principal, kind, tg.msisdn, tg.subscription_id, lang)
    proposal = {"kind": kind, "msisdn": tg.msisdn, "subscription_id": tg.subscription_id, "impact": result.as_dict()}
    what = _label(tg, lang)
    if not result.eligible:
        reasons = "；".join(f"{b.message}（{b.resolution}）" if lang != "en" else f"{b.message} ({b.resolution})"
                           for b in result.blockers)
        return _answer(u.intent, _t(lang, f"{what} 现在还不能办理：{reasons}", f"{what} cannot be ended yet: {reasons}"),
                       proposal=proposal), state
    state["pending"] = {"kind": kind, "msisdn": tg.msisdn, "subscription_id": tg.subscription_id,
                        "warnings": result.warning_codes, "expires": (now + timedelta(minutes=PROPOSAL_MINUTES)).timestamp()}
    return _answer(u.intent, _impact_text(kind, what, result, lang), proposal=proposal), state


def _impact_text(kind: str, what: str, result, lang: str) -> str:
    impact = result.impact
    refund = impact.get("refund", {}).get("amount", 0)
    shown = _money(refund, lang, impact.get("refund", {}).get("currency") or "CNY")
    access = impact.get("access_ends_at")
    access = access[:10] if access and access != "on completion" else None
    if kind == "close_line":
        text = _t(lang, f"将注销号码 {what}，号码上的所有业务一并结束，号码冻结 {impact.get('number_frozen_days')} 天；"
                        f"预计退款 {shown}。", f"This closes {what} and everything on it; the number is frozen for "
                        f"{impact.get('number_frozen_days')} days; expected refund {shown}.")
    elif kind == "cancel_renewal":
        text = _t(lang, f"将取消 {what} 的自动续费：不再扣费，权益可用到 {access}。",
                  f"This stops the auto-renewal of {what}: no further charge, benefits last until {access}.")
    else:
        until = _t(lang, f"可用到 {access}", f"usable until {access}") if access else _t(lang, "立即停止", "ends at once")
        text = _t(lang, f"将退订 {what}：{until}，退款 {shown}。",
                  f"This unsubscribes {what}: {until}, refund {shown}.")
    for w in result.warnings:
        text += f" ⚠ {w.message}"
    return text + _t(lang, " 回复“确认”办理，回复“算了”放弃。", " Reply “confirm” to go ahead or “no” to leave it.")


def _execute(c, principal: Principal, pending: dict, lang: str, channel: str = CHANNEL) -> dict:
    """The caller confirmed: the same create + confirm as the portal's one-step ending."""
    cmd = requests.NewRequest(kind=pending["kind"], msisdn=pending["msisdn"], subscription_id=pending["subscription_id"],
                              acknowledged_warnings=tuple(pending.get("warnings", ())), channel=channel, lang=lang,
                              reason="assistant")
    try:
        req, _created = requests.create_request(c, principal, cmd)
    except Conflict as exc:
        no = (exc.details or {}).get("tracking_no")
        return _answer(pending["kind"], _t(lang, f"已有一个进行中的申请 {no} 覆盖了这一项。", f"Request {no} already covers this."),
                       request={"tracking_no": no, "status": "open"} if no else None)
    if req.status == "awaiting_confirmation":
        try:
            req = requests.confirm(c, principal, req.tracking_no, None, lang, channel)
        except Forbidden as exc:
            if exc.code not in ("STEP_UP_REQUIRED", "STEP_UP_LOCKED"):
                raise
            return _answer(pending["kind"], _t(
                lang, f"已提交申请 {req.tracking_no}。销户还需要身份核验：请在申请页输入服务密码或证件号后六位完成确认。",
                f"Request {req.tracking_no} is created. Closing a number needs one more check: enter your service "
                "password or the last 6 characters of your ID on the request page."),
                request={"tracking_no": req.tracking_no, "status": req.status}, next=f"/requests/{req.tracking_no}")
        req = requests.get_request(c, principal, req.tracking_no)  # it may have run already
    return _answer(pending["kind"], _t(lang, f"已办理，申请编号 {req.tracking_no}，当前状态：{req.status}。",
                                       f"Done — request {req.tracking_no}, status: {req.status}."),
                   request={"tracking_no": req.tracking_no, "status": req.status})


def _list_reply(targets: list[Target], lang: str) -> str:
    paid = [tg for tg in targets if not tg.is_line and tg.active and tg.product_kind != "plan"]
    if not paid:
        return _t(lang, "您没有开通增值业务或会员。", "You have no value-added services or memberships.")
    items = "；".join(f"{i}. {_label(tg, lang)}（{mask_msisdn(tg.msisdn)}）"
                     + (_t(lang, "，自动续费", ", auto-renews") if tg.auto_renew else "") for i, tg in enumerate(paid, 1))
    return _t(lang, f"您开通的付费业务：{items}。想退订哪个，直接告诉我。",
              f"What you pay for: {items}. Tell me which one to end.")
