"""One inbound SMS → a command → service-layer calls → one reply. The conversation (the `0000`
list and its 2-hour window, a pending `Y` and its 10 minutes, the language) lives in the
database by sender, so it survives a restart."""
from __future__ import annotations

from datetime import datetime, timedelta

from canceldesk.domain.lifecycle import Status
from canceldesk.service_layer import channels
from canceldesk.service_layer.errors import ServiceError

from .commands import Command, parse
from .texts import KIND, PERIOD, STATUS, money, t

CHANNEL = "sms"


def _key(msisdn: str) -> str:
    return f"sms:{msisdn}"


def _valid(state: dict, field: str, now: datetime) -> bool:
    until = state.get(field)
    return bool(until) and datetime.fromisoformat(until) > now


def _last_day(iso: str) -> str:
    """Access ends at 00:00 of a day: the last day of use is the day before."""
    return (datetime.fromisoformat(iso).date() - timedelta(days=1)).isoformat()


def handle(c, sender: str, text: str, message_id: str) -> None:
    """Process one message from `sender` (network-verified) and reply to it through the outbox."""
    verdict = channels.accept_inbound(c, CHANNEL, message_id, sender)
    if verdict in ("replay", "limited"):
        return  # a replay is processed once; past the limit nothing more is answered
    cmd = parse(text)
    conv = channels.load_conversation(c, _key(sender)) or {}
    lang = cmd.lang or conv.get("lang") or channels.lang_of_pack(c)
    state = dict(conv.get("state") or {})

    def reply(body: str, ref: str | None = None) -> None:
        channels.send_reply(c, sender, body, f"sms-reply:{message_id}", ref=ref)

    if verdict == "limited_notice":
        reply(t("limited", lang))
        return
    principal = channels.principal_for_number(c, sender, via=CHANNEL)
    if principal is None:
        reply(t("not_served", lang))
        return
    body, ref = _answer(c, principal, sender, cmd, state, lang, message_id)
    channels.save_conversation(c, _key(sender), CHANNEL, sender, lang, state)
    reply(body, ref)


def _answer(c, principal, msisdn: str, cmd: Command, state: dict, lang: str, message_id: str) -> tuple[str, str | None]:
    now = c.now()
    rules = channels.rules(c, CHANNEL)
    if cmd.name == "list":
        return _list(c, principal, msisdn, state, lang, now, rules), None
    if cmd.name == "serials":
        if not _valid(state, "list_until", now):
            return t("list_needed", lang), None
        listed = state.get("list", [])
        bad = [n for n in cmd.serials if not 1 <= n <= len(listed)]
        if bad or not listed:
            return t("bad_serials", lang, bad="、".join(map(str, bad)) if lang == "zh" else ", ".join(map(str, bad)),
                     n=len(listed)), None
        return _preview(c, principal, msisdn, "unsubscribe", [listed[n - 1] for n in cmd.serials], state, lang, now, rules), None
    if cmd.name == "cancel":
        listed = state.get("list") if _valid(state, "list_until", now) else None
        if cmd.target.isdigit() and listed is None:
            return t("list_needed", lang), None
        item = channels.find_subscription(c, principal, msisdn, cmd.target, listed, lang)
        if item is None:
            return t("not_found", lang, ref=cmd.target), None
        return _preview(c, principal, msisdn, "cancel_renewal", [item.subscription_id], state, lang, now, rules), None
    if cmd.name == "confirm":
        return _confirm(c, principal, msisdn, state, lang, now, message_id)
    if cmd.name == "decline":
        had = state.pop("pending", None)
        return (t("declined", lang) if had else t("nothing_to_confirm", lang)), None
    if cmd.name == "eligibility":
        return _eligibility(c, principal, msisdn, cmd, lang), None
    if cmd.name == "follow":
        req = channels.follow(c, principal, cmd.target)
        if req is None or req.msisdn != msisdn:
            return t("follow_unknown", lang, ref=cmd.target), None
        return t("follow", lang, ref=req.tracking_no, kind=KIND[lang].get(req.kind, req.kind),
                 status=STATUS[lang].get(req.status, req.status)), req.tracking_no
    if cmd.name == "language":
        return t("help", lang), None
    if cmd.target == "unknown":  # what we could not read is said first, then the help text
        return t("unknown", lang) + t("help", lang).split("】", 1)[-1].split("] ", 1)[-1], None
    return t("help", lang), None


def _list(c, principal, msisdn, state, lang, now, rules) -> str:
    items = channels.paid_services(c, principal, msisdn, lang)
    state.pop("pending", None)
    state["list"] = [i.subscription_id for i in items]
    state["list_until"] = (now + timedelta(minutes=rules.list_valid_minutes)).isoformat()
    if not items:
        return t("empty", lang)
    out = [t("list_head", lang)]
    for i in items:
        if i.unsubscribe_effect == "immediate":
            effect = t("effect_immediate", lang, refund=t("refund_prorated" if i.refund == "prorated" else "refund_none", lang))
        else:
            effect = t("effect_end_of_cycle", lang, date=(i.period_end - timedelta(days=1)).isoformat())
        renew = t("renews", lang, n=i.serial) if i.auto_renew else ""
        out.append(t("list_item", lang, n=i.serial, name=i.name, price=money(i.price),
                     period=PERIOD[lang].get(i.period, i.period), effect=effect, renew=renew))
    out.append(t("list_foot", lang))
    return "\n".join(out)


def _preview(c, principal, msisdn, kind, sub_ids, state, lang, now, rules) -> str:
    if not rules.may_start(kind):
        return t("not_allowed", lang, kind=KIND[lang].get(kind, kind))
    names = {i.subscription_id: i.name for i in channels.paid_services(c, principal, msisdn, lang)}
    lines, ok, warnings = [t("preview_head", lang)], [], []
    for sub_id in sub_ids:
        result = channels.preview(c, principal, kind, msisdn, sub_id, lang)
        name = names.get(sub_id, sub_id)
        if not result.eligible:
            b = result.blockers[0]
            lines.append(t("preview_blocked", lang, name=name, kind=KIND[lang][kind], message=b.message, resolution=b.resolution))
            continue
        refund = result.impact.get("refund", {}).get("amount", 0)
        refund_text = t("preview_refund", lang, amount=money(refund)) if refund else t("refund_none", lang)
        access = result.impact.get("access_ends_at")
        effect = (t("preview_access", lang, date=_last_day(access), refund=refund_text)
                  if access and access != "on completion" else t("preview_now", lang, refund=refund_text))
        lines.append(t("preview_item", lang, kind=KIND[lang][kind], name=name, effect=effect))
        lines += [t("preview_warning", lang, message=w.message) for w in result.warnings]
        ok.append(sub_id)
        warnings += [w.code for w in result.warnings if w.code not in warnings]
    if ok:
        state["pending"] = {"kind": kind, "items": ok, "warnings": warnings,
                            "until": (now + timedelta(minutes=rules.confirm_valid_minutes)).isoformat()}
        lines.append(t("preview_foot", lang))
    else:
        state.pop("pending", None)
    return "\n".join(lines)


def _confirm(c, principal, msisdn, state, lang, now, message_id) -> tuple[str, str | None]:
    pending = state.pop("pending", None)
    if not pending or datetime.fromisoformat(pending["until"]) <= now:
        return t("nothing_to_confirm", lang), None
    kind = pending["kind"]
    names = {i.subscription_id: i.name for i in channels.paid_services(c, principal, msisdn, lang)}
    lines, refs = [t("done_head", lang)], []
    for sub_id in pending["items"]:
        name = names.get(sub_id, sub_id)
        try:
            req = channels.end(c, principal, kind, msisdn, sub_id, idempotency_key=f"sms:{message_id}:{sub_id}",
                               acknowledged_warnings=tuple(pending.get("warnings", ())), lang=lang)
        except ServiceError as exc:
            lines.append(t("failed_item", lang, kind=KIND[lang][kind], name=name, message=exc.message))
            continue
        if req.status == Status.REJECTED:
            lines.append(t("failed_item", lang, kind=KIND[lang][kind], name=name, message=",".join(req.reject_codes)))
            continue
        refs.append(req.tracking_no)
        lines.append(t("done_item", lang, kind=KIND[lang][kind], name=name, ref=req.tracking_no,
                       status=STATUS[lang].get(req.status, req.status)))
    if refs:
        lines.append(t("done_foot", lang))
    return "\n".join(lines), (refs[0] if len(refs) == 1 else None)


def _eligibility(c, principal, msisdn, cmd: Command, lang: str) -> str:
    result = channels.closure_eligibility(c, principal, msisdn, cmd.person_name, cmd.id_number, lang)
    if result is None:
        return t("eligibility_neutral", lang)
    if result.eligible:
        return t("eligible", lang) + t("where_close", lang)
    items = [t("blocker", lang, n=i, message=b.message, resolution=b.resolution)
             for i, b in enumerate(result.blockers, start=1)]
    return "\n".join([t("blocked", lang), *items, t("where_close", lang)])

