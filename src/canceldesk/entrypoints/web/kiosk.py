"""The kiosk (自助终端): the portal in a locked-down mode for a terminal in a store.

Login by the ID document presented plus the SMS code sent to the number; then the ordinary
portal pages, marked as kiosk (large type, no external links, no downloads, a print button for
the receipt), and every request made there records channel `kiosk`. After 60 s without a touch
the screen is cleared and the session ended (static/kiosk.js posts /kiosk/logout).
"""
from __future__ import annotations

import time

from fastapi import APIRouter, Request

from canceldesk.domain.identifiers import DOCUMENT_TYPES
from canceldesk.service_layer import auth, channels, requests
from canceldesk.service_layer.errors import ServiceError
from canceldesk.service_layer.principal import may

from .pages import (KIOSK_COOKIE, CheckedForm, PageRoute, client_of, code_login, container, cookie_flags,
                    end_session, field_errors, kiosk_mark, redirect, render, start_session, tr)

router = APIRouter(route_class=PageRoute, include_in_schema=False)
DOC_TYPES = [t for t in DOCUMENT_TYPES if t != "cn_uscc"]  # a person's documents


def _ticket(request: Request, msisdn: str, sent: bool, at: int | None = None) -> str:
    """Binds the code step to the document step (the code alone does not log in at a kiosk)."""
    at = int(time.time()) if at is None else at
    return f"{at}.{container(request).keyring.sign(f'kiosk-ticket:{msisdn}:{at}:{sent}', 32)}"


def _ticket_ok(request: Request, msisdn: str, ticket: str) -> bool:
    at, _, _sig = ticket.partition(".")
    if not at.isdigit() or time.time() - int(at) > container(request).settings.otp_ttl_seconds:
        return False
    return _ticket(request, msisdn, True, int(at)) == ticket


@router.get("/kiosk")
def kiosk_home(request: Request):
    return render(request, "kiosk/login.html", doc_types=DOC_TYPES, errors={}, msisdn="", doc_type="cn_ric")


@router.post("/kiosk/otp")
def kiosk_send_code(request: Request, form: CheckedForm):
    doc_type = str(form.get("doc_type") or "cn_ric")[:40]
    msisdn = str(form.get("msisdn") or "")[:32]
    try:
        number = requests.parse_msisdn(msisdn)
        sent = channels.kiosk_send_code(container(request), doc_type, str(form.get("doc_number") or "")[:40], number,
                                        client=client_of(request))
    except ServiceError as exc:
        return render(request, "kiosk/login.html", status=422, doc_types=DOC_TYPES, msisdn=msisdn, doc_type=doc_type,
                      errors=field_errors(request, exc, "doc_number"))
    return render(request, "kiosk/code.html", msisdn=number, ticket=_ticket(request, number, sent), errors={})


@router.post("/kiosk/verify")
def kiosk_verify(request: Request, form: CheckedForm):
    c = container(request)
    _ = tr(request)
    msisdn = str(form.get("msisdn") or "")[:32]
    ticket = str(form.get("ticket") or "")[:120]
    otp = str(form.get("otp") or "")[:12]
    if not _ticket_ok(request, msisdn, ticket):
        return render(request, "kiosk/code.html", status=422, msisdn=msisdn, ticket=ticket,
                      errors={"otp": _("The code is wrong or has expired. Request a new one.")})
    login, retry = code_login(request, msisdn, otp,
                              lambda **e: render(request, "kiosk/code.html", msisdn=msisdn, ticket=ticket, **e))
    if retry:
        return retry
    if not may(login["role"], "own_lines"):  # the kiosk is the portal: the one roles table decides
        auth.logout(c, login["token"])
        return redirect("/kiosk")
    response = start_session(request, login, "/")
    response.set_cookie(KIOSK_COOKIE, kiosk_mark(request, login["token"]), **cookie_flags(request))
    return response


@router.post("/kiosk/logout")
def kiosk_logout(request: Request, form: CheckedForm):
    response = end_session(request, "/kiosk")
    response.delete_cookie(KIOSK_COOKIE, **cookie_flags(request))
    return response
