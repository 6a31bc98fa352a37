"""Enterprise fleet closure needs a second factor (issue 8).

A disgruntled or hijacked enterprise admin closing the company's fleet is the insider attack that
matters. So a batch that would close more than a handful of lines (`CANCELDESK_FLEET_STEP_UP_OVER`,
5) is accepted only with (1) a fresh SMS code sent to the admin's own number for *this* batch and
(2) the number of lines typed back (`confirm_count`). The first submit without them sends the code
and answers 403 FLEET_STEP_UP_REQUIRED with the count to type; wrong codes count like login codes
(5 lock the admin's number). When the batch is accepted the enterprise's other admins are told.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from canceldesk.domain.identifiers import mask_msisdn

from . import audit, auth
from .errors import Forbidden, InvalidInput, TooManyRequests
from .notifications import notify, render
from .principal import Principal


def needs_step_up(c, eligible: int) -> bool:
    return eligible > c.settings.fleet_step_up_over


def _send_code(c, uow, msisdn: str, batch_id: str, now) -> None:
    if uow.fleetguard.codes_sent_since(msisdn, now - timedelta(hours=1)) >= c.settings.otp_max_per_hour:
        raise TooManyRequests("too many codes requested for this number; try again within the hour",
                              {"retry_after_seconds": 3600}, code="OTP_RATE_LIMITED")
    code = f"{secrets.randbelow(10**6):06d}"
    uow.fleetguard.add_code(msisdn, c.keyring.otp_hash(msisdn, code), now, c.settings.otp_ttl_seconds)
    uow.repo.add_message(dedup_key=f"fleet_otp:{batch_id}:{secrets.token_hex(4)}", channel="sms", to=msisdn,
                         event="otp", ref=None, text=render("otp", code=code), at=now)


def _code_matches(c, uow, msisdn: str, code: str, now) -> bool:
    subject = f"otp:{msisdn}"
    if auth.is_locked(uow, subject, now):
        raise TooManyRequests("too many wrong codes: this number is locked for a while; try again later",
                              code="OTP_LOCKED")
    row = uow.fleetguard.live_code(msisdn, now)
    ok = row is not None and c.keyring.same(row["code_hash"], c.keyring.otp_hash(msisdn, code))
    if ok:
        uow.fleetguard.use_code(row["id"], now)
        auth.clear_failures(uow, subject)
    else:
        auth._register(c, uow, subject)
    return ok


def check(c, uow, principal: Principal, batch_id: str, eligible: int, otp: object, confirm_count: object) -> None:
    """Return when the batch may be accepted; otherwise raise (a code is sent when none was given)."""
    if not needs_step_up(c, eligible):
        return
    now = c.now()
    msisdn = principal.login_msisdn
    details = {"count": eligible, "over": c.settings.fleet_step_up_over}
    if not msisdn:
        raise Forbidden(f"closing {eligible} lines needs a code sent to your admin number: log in with it",
                        details, code="FLEET_STEP_UP_REQUIRED")
    if otp in (None, ""):
        _send_code(c, uow, msisdn, batch_id, now)
        audit.record(uow, at=now, actor=principal.actor, event="fleet_step_up_sent", subject=f"batch:{batch_id}",
                     details={"count": eligible, "to": mask_msisdn(msisdn)})
        uow.commit()
        raise Forbidden(f"closing {eligible} lines needs the code just sent to {mask_msisdn(msisdn)} (otp) and the "
                        f"number of lines typed back (confirm_count)", {**details, "otp_sent_to": mask_msisdn(msisdn)},
                        code="FLEET_STEP_UP_REQUIRED")
    if confirm_count != eligible:
        raise InvalidInput(f"type the number of lines this closes: {eligible}", {**details, "field": "confirm_count"},
                           code="COUNT_MISMATCH")
    if not _code_matches(c, uow, msisdn, auth._otp_code(otp), now):
        audit.record(uow, at=now, actor=principal.actor, event="fleet_step_up_failed", subject=f"batch:{batch_id}",
                     details={"count": eligible})
        uow.commit()
        raise Forbidden("the code is wrong or has expired; submit without otp to get a new one", details,
                        code="FLEET_STEP_UP_FAILED")
    audit.record(uow, at=now, actor=principal.actor, event="fleet_closure_confirmed", subject=f"batch:{batch_id}",
                 details={"count": eligible})
    tell_other_admins(uow, principal, batch_id, eligible, now, c.pack.locale)


def tell_other_admins(uow, principal: Principal, batch_id: str, count: int, now, lang: str) -> int:
    """The enterprise's other admins learn that a fleet closure was accepted (and by which admin number),
    each in the language they last used (`lang`, the pack's, when they never placed a request)."""
    others = [(m, their) for m, their in uow.partner_api.admin_languages(principal.enterprise_id)
              if m != principal.login_msisdn]
    for m, their in others:
        notify(uow.repo, to=m, event="fleet_closure", ref=batch_id[:8], at=now, dedup=f"fleet_closure:{batch_id}:{m}",
               count=count, admin=mask_msisdn(principal.login_msisdn) if principal.login_msisdn else principal.actor,
               lang=their or lang)
    return len(others)
