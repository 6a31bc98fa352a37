"""The channel seam: what SMS, the phone (IVR) and the kiosk need from the service layer.

A channel turns its own input into these calls and renders the answer; no business rule lives in
a parser. Ending something goes through `requests.create_request` + `requests.confirm` — the
same handlers the portal's button and the API use — with the channel recorded on every
transition (the principal carries it in `via`). Which kinds a channel may start and which
second factor it collects are policy-pack data (`[channels.sms]`, `[channels.ivr]`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from canceldesk.domain.identifiers import InvalidIdentifier, normalize_msisdn, validate_document
from canceldesk.domain.lifecycle import Request, Status
from canceldesk.domain.model import CustomerKind, LineStatus
from canceldesk.domain.prechecks import PrecheckResult, local_today

from . import requests
from .errors import Forbidden, InvalidInput, NotFound, ServiceError
from .principal import Principal

PAID_KINDS = ("vas", "membership")  # what `0000` lists: value-added services and memberships


@dataclass(frozen=True)
class PaidService:
    """One item of the `0000` list (serial = its 1-based position)."""
    serial: int
    subscription_id: str
    product: str
    name: str
    kind: str
    price: int
    currency: str
    period: str
    auto_renew: bool
    unsubscribe_effect: str
    refund: str
    period_end: date


def lang_of_pack(c) -> str:
    return "en" if c.pack.locale.startswith("en") else "zh"


def rules(c, channel: str):
    return c.pack.channel(channel)


def principal_for_number(c, raw_msisdn: object, via: str) -> Principal | None:
    """The real-name person behind a network-verified number (the SMS sender, the caller's `From`).

    None when the number is not an active line of a person served here (enterprise cards are
    ended by their enterprise admin). The principal acts only through `via` and, in the channels,
    only on this number."""
    try:
        msisdn = normalize_msisdn(raw_msisdn)
    except InvalidIdentifier:
        return None
    with c.uow() as uow:
        line = uow.repo.line(msisdn)
        if line is None or line.status not in (LineStatus.ACTIVE, LineStatus.SUSPENDED):
            return None
        customer = uow.repo.customer(line.customer_id)
        if customer is None or customer.kind != CustomerKind.PERSON or customer.anonymised_at is not None:
            return None
        return Principal(kind="subscriber", id=customer.id, login_msisdn=msisdn, via=via)


def age_of(c, principal: Principal) -> int | None:
    """The person's age from the real-name ID's birth date (resident IDs only; None otherwise)."""
    from stdnum.cn import ric
    with c.uow() as uow:
        customer = uow.repo.customer(principal.id)
        if customer is None or customer.id_doc_type != "cn_ric":
            return None
        try:
            born = ric.get_birth_date(customer.id_doc_number)
        except Exception:  # noqa: BLE001 - stdnum raises several kinds for a malformed number
            return None
    today = local_today(c.now(), c.pack)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def paid_services(c, principal: Principal, msisdn: str, lang: str = "zh") -> list[PaidService]:
    """The `0000` list: active VAS and memberships on this one number, in a stable order."""
    with c.uow() as uow:
        line = requests.visible_line(uow, principal, requests.parse_msisdn(msisdn))
        subs = [(s, p) for s, p in uow.repo.subscriptions_with_products(line.msisdn)
                if p.kind in PAID_KINDS and s.is_active]
    subs.sort(key=lambda sp: (PAID_KINDS.index(sp[1].kind), sp[1].code, sp[0].id))
    return [PaidService(i, s.id, p.code, p.name(lang), p.kind, p.price, p.currency, p.period, s.auto_renew,
                        p.unsubscribe_effect, p.refund, s.period_end) for i, (s, p) in enumerate(subs, start=1)]


def find_subscription(c, principal: Principal, msisdn: str, ref: str, listed: list[str] | None = None,
                      lang: str = "zh") -> PaidService | None:
    """By serial of the `0000` list the caller was shown (`listed`: its subscription ids in order),
    or by product code (as the renewal reminders name it: 取消MEM-VIDEO). None when neither fits."""
    ref = ref.strip().upper()
    current = paid_services(c, principal, msisdn, lang)
    if ref.isdigit():
        n = int(ref)
        if listed is None or not (1 <= n <= len(listed)):
            return None
        return next((s for s in current if s.subscription_id == listed[n - 1]), None)
    return next((s for s in current if s.product.upper() == ref), None)


def check_channel_may(c, channel: str, kind: str) -> None:
    """403 CHANNEL_NOT_ALLOWED when the pack does not let this channel start this kind."""
    if not rules(c, channel).may_start(kind):
        raise Forbidden(f"{kind} cannot be started by {channel} under the {c.pack.code} policy",
                        {"channel": channel, "kind": kind, "allowed": list(rules(c, channel).kinds)},
                        code="CHANNEL_NOT_ALLOWED")


def preview(c, principal: Principal, kind: str, msisdn: str, subscription_id: str | None = None,
            lang: str = "zh") -> PrecheckResult:
    """What would end, its effect and refund, the blockers — the same pre-check as every channel."""
    check_channel_may(c, principal.channel, kind)
    return requests.precheck(c, principal, kind, msisdn, subscription_id, lang)


def end(c, principal: Principal, kind: str, msisdn: str, subscription_id: str | None = None, *,
        idempotency_key: str, acknowledged_warnings: tuple[str, ...] = (), verification: dict | None = None,
        lang: str = "zh") -> Request:
    """Create and confirm, through the portal's own handlers. The caller has heard or read the
    impact and said yes (SMS `Y`, IVR `1`); the warnings shown then are acknowledged.

    The second factor the channel collects (pack data) must be present; the confirm handler
    checks it (counting failures and locking as for every channel). When a confirmation fails the
    request stays `awaiting_confirmation` and the error is raised with its tracking number."""
    channel = principal.channel
    check_channel_may(c, channel, kind)
    needed = rules(c, channel).factors(kind)
    if needed and not any((verification or {}).get(f) for f in needed):
        raise Forbidden("this needs a second check: " + " or ".join(needed), {"factors": list(needed)},
                        code="STEP_UP_REQUIRED")
    verification = {f: v for f, v in (verification or {}).items() if not needed or f in needed}
    cmd = requests.NewRequest(kind=kind, msisdn=msisdn, subscription_id=subscription_id, reason=f"via {channel}",
                              acknowledged_warnings=tuple(acknowledged_warnings), idempotency_key=idempotency_key,
                              channel=channel, lang=lang, confirm_follows=True)
    req, _created = requests.create_request(c, principal, cmd)
    if req.status == Status.AWAITING_CONFIRMATION:
        try:
            req = requests.confirm(c, principal, req.tracking_no, verification or None, lang)
        except ServiceError as exc:
            exc.details = {**(exc.details if isinstance(exc.details, dict) else {}), "tracking_no": req.tracking_no}
            raise
    return req


def confirm_pending(c, principal: Principal, tracking_no: str, verification: dict | None, lang: str = "zh") -> Request:
    """A second try at the factor for a request `end` left awaiting confirmation (IVR password)."""
    return requests.confirm(c, principal, tracking_no, verification, lang)


def closure_eligibility(c, principal: Principal, msisdn: str, name: str, id_number: str,
                        lang: str = "zh") -> PrecheckResult | None:
    """`CXXZ#姓名#证件号码`: the close_line pre-check when the name and ID match this number's
    real-name record; None for any mismatch (one neutral answer — no oracle for either part)."""
    with c.uow() as uow:
        line = requests.visible_line(uow, principal, requests.parse_msisdn(msisdn))
        customer = uow.repo.customer(line.customer_id)
    matched = False
    if customer is not None:
        try:
            number = validate_document(customer.id_doc_type, id_number, "id_number")
            id_ok = c.keyring.matches_digest(customer.id_doc_digest, number)
        except InvalidIdentifier:
            id_ok = False
        name_ok = c.keyring.same(_fold_name(customer.name), _fold_name(name))
        matched = id_ok and name_ok
    if not matched:
        return None
    return requests.precheck(c, principal, "close_line", line.msisdn, None, lang)


def _fold_name(name: str) -> str:
    import unicodedata
    return "".join(unicodedata.normalize("NFKC", name or "").casefold().split())


def follow(c, principal: Principal, tracking_no: str) -> Request | None:
    """A request of this person by tracking number, or None (the same for "not yours")."""
    try:
        return requests.get_request(c, principal, tracking_no.strip().upper())
    except NotFound:
        return None


# ----------------------------------------------------------------------- conversations and inbound

def accept_inbound(c, channel: str, message_id: str, msisdn: str) -> str:
    """'new', 'replay' (seen before: do nothing) or 'limited' (over the per-number limit; the
    first message over it is 'limited_notice' so the sender hears once why nothing happens)."""
    now = c.now()
    limit = rules(c, channel).max_commands_per_hour
    with c.uow() as uow:
        store = uow.repo.channels
        recent = store.inbound_count(channel, msisdn, now - timedelta(hours=1))
        if not store.claim_inbound(channel, message_id, msisdn, now):
            return "replay"
        uow.commit()
    if recent > limit:
        return "limited"
    if recent == limit:
        return "limited_notice"
    return "new"


def load_conversation(c, key: str) -> dict | None:
    with c.uow() as uow:
        return uow.repo.channels.conversation(key)


def save_conversation(c, key: str, channel: str, msisdn: str, lang: str, state: dict) -> None:
    with c.uow() as uow:
        uow.repo.channels.save_conversation(key, channel, msisdn, lang, state, c.now())
        uow.commit()


def purge_state(c, now) -> dict:
    """Scheduled: conversations idle for a day (a 0000 list lives 2 hours, a call minutes) and inbound
    message ids older than 30 days (replays come within seconds) are deleted."""
    with c.uow() as uow:
        n = uow.repo.channels.forget_before(now - timedelta(days=1), inbound_days=30)
        uow.commit()
    return {"conversations": n}


def send_reply(c, to: str, text: str, dedup: str, ref: str | None = None, event: str = "sms_reply") -> None:
    """A mobile-terminated message through the outbox and the SMS gateway (visible in /dev/outbox)."""
    with c.uow() as uow:
        uow.repo.add_message(dedup_key=dedup[:200], channel="sms", to=to, event=event, ref=ref, text=text, at=c.now())
        uow.commit()


# ------------------------------------------------------------------------------------------ kiosk

def kiosk_send_code(c, doc_type: object, doc_number: object, raw_msisdn: object, client: str | None = None) -> bool:
    """Kiosk login, first step: the ID document presented on the terminal and the number to log in
    with. A code is sent only when the document is the real-name owner's of that active line; the
    kiosk answers the same either way (no oracle). Returns whether a code went out (for the ticket)."""
    from . import auth
    auth.limit_client(c, "kiosk", client)
    msisdn = requests.parse_msisdn(raw_msisdn)
    try:
        number = validate_document(doc_type, doc_number, "id_document")
    except InvalidIdentifier as exc:
        raise InvalidInput(exc.message, {"field": exc.field}) from None
    with c.uow() as uow:
        line = uow.repo.line(msisdn)
        customer = uow.repo.customer(line.customer_id) if line is not None and line.status == LineStatus.ACTIVE else None
        matched = bool(customer is not None and customer.kind == CustomerKind.PERSON and customer.id_doc_type == doc_type
                       and c.keyring.matches_digest(customer.id_doc_digest, number))
    if matched:
        auth.send_otp(c, msisdn, client=client)
    return matched
