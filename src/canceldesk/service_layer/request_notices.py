"""The messages a request's state sends (one per event): rejected, needs action, in review, accepted,
withdrawn. `requests.py` re-exports them; the bulk intake tells each request the same way."""
from __future__ import annotations

from canceldesk.domain import localtime
from canceldesk.domain.lifecycle import Request, Status
from canceldesk.domain.prechecks import PrecheckResult

from .notifications import notify


# Channels where the person is not looking at the request when it is created (a text, a call, an
# assistant): only there does "please confirm" tell them something they do not already see.
ASKS_BY_MESSAGE = frozenset({"sms", "ivr", "assistant"})
# Channels whose own reply to the confirmation is the acceptance message (the SMS answer to "Y" carries
# the reference and how to follow it): a separate "accepted" text would say the same thing twice.
ACCEPTS_IN_REPLY = frozenset({"sms"})


def _notify_state(c, uow, req: Request, now, result: PrecheckResult | None = None, detail: str = "",
                  lang: str | None = None, via: str | None = None) -> None:
    """One message per event. Lines of an enterprise batch are told nothing one by one: the
    admin gets one message for the batch (batches.py)."""
    if req.batch_id is not None:
        return
    lang = lang or req.lang or c.pack.locale
    base = dict(to=req.msisdn, ref=req.tracking_no, at=now, kind=req.kind, lang=lang, via=req.channel)
    if req.status == Status.REJECTED:
        sep = "; " if lang.startswith("en") else "；"
        text = detail or sep.join(b.message for b in (result.blockers if result else [])) or ",".join(req.reject_codes)
        notify(uow.repo, event="rejected", dedup=f"{req.id}:rejected", detail=text, **base)
    elif req.status == Status.AWAITING_CONFIRMATION:
        if req.channel in ASKS_BY_MESSAGE:
            notify(uow.repo, event="needs_action", dedup=f"{req.id}:needs_action", **base)
    elif req.status == Status.IN_REVIEW:
        notify(uow.repo, event="in_review", dedup=f"{req.id}:in_review", **base)
    elif req.status == Status.EXECUTING and via not in ACCEPTS_IN_REPLY:
        notify(uow.repo, event="accepted", dedup=f"{req.id}:accepted",
               deadline=localtime.shown(req.deadline_at, c.pack.timezone), **base)
    elif req.status == Status.WITHDRAWN:
        notify(uow.repo, event="withdrawn", dedup=f"{req.id}:withdrawn", **base)


notify_state = _notify_state  # the bulk intake (intake.py) tells each request the same way
