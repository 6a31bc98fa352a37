"""The self-service portal (subscriber): log in by SMS code, my numbers, one-click endings,
the close-number wizard, a request's page, the receipt, complaints, and public verification."""
from __future__ import annotations

from fastapi import APIRouter, Request

from canceldesk.service_layer import assistant, auth, complaints, receipts, requests, selfservice
from canceldesk.service_layer.errors import ServiceError

from . import labels
from .pages import (CheckedForm, PageRoute, Subscriber, acked_of, client_of, code_login, container,
                    current_principal, end_session, error_text, field_errors, form_key, lang_of, nonce, open_request,
                    redirect, render, safe_next, set_lang, start_session, submit_errors, HOME_OF_ROLE)

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _demo_logins(request: Request) -> list[dict]:
    if not container(request).settings.is_dev:
        return []
    from canceldesk.demo.data import DEMO_LOGINS
    return DEMO_LOGINS


# ---- landing, login, logout, language ---------------------------------------------------------------
@router.get("/")
def home(request: Request):
    p = current_principal(request)
    if p is None or not p.is_subscriber:
        return render(request, "portal/landing.html", area="portal", next=safe_next(request.query_params.get("next")),
                      errors={}, msisdn="", demo_logins=_demo_logins(request))
    return _home(request, p)


def _home(request: Request, p, status: int = 200, **chat):
    c = container(request)
    return render(request, "portal/home.html", status=status, lines=selfservice.my_lines(c, p),
                  my_requests=selfservice.my_requests(c, p, limit=10), chat=chat.get("chat"),
                  said=chat.get("said", ""), errors=chat.get("errors", {}))


@router.post("/assistant")
def assistant_message(request: Request, p: Subscriber, form: CheckedForm):
    """The chat box: the same assistant as POST /v1/assistant/messages (works without scripts)."""
    text = str(form.get("text") or "")[:assistant.MAX_TEXT]
    cid = str(form.get("conversation_id") or "")[:36] or None
    try:
        answer = assistant.handle(container(request), p, text, cid, False, lang_of(request), p.login_msisdn)
    except ServiceError as exc:
        return _home(request, p, status=exc.status, said=text, errors={"assistant": error_text(request, exc)})
    return _home(request, p, chat=answer, said=text)


def _login_page(request: Request, area: str, **ctx):
    template = "enterprise/login.html" if area == "enterprise" else "portal/landing.html"
    return render(request, template, area=area, demo_logins=_demo_logins(request), **ctx)


@router.post("/login/otp")
def login_send_code(request: Request, form: CheckedForm):
    c = container(request)
    area = "enterprise" if form.get("area") == "enterprise" else "portal"
    msisdn = str(form.get("msisdn") or "")[:32]
    nxt = safe_next(form.get("next"), "")
    try:
        number = requests.parse_msisdn(msisdn)
        auth.send_otp(c, number, client=client_of(request), lang=lang_of(request))
    except ServiceError as exc:
        return _login_page(request, area, status=422, errors=field_errors(request, exc, "msisdn"), msisdn=msisdn,
                           next=nxt)
    return render(request, "portal/code.html", area=area, msisdn=number, next=nxt, errors={})


@router.post("/login/verify")
def login_verify(request: Request, form: CheckedForm):
    area = "enterprise" if form.get("area") == "enterprise" else "portal"
    msisdn = str(form.get("msisdn") or "")[:32]
    nxt = safe_next(form.get("next"), "")
    login, retry = code_login(request, msisdn, str(form.get("otp") or ""),
                              lambda **e: render(request, "portal/code.html", area=area, msisdn=msisdn, next=nxt, **e),
                              as_role="enterprise_admin" if area == "enterprise" else None)
    return retry or start_session(request, login, nxt or HOME_OF_ROLE.get(login["role"], "/"))


@router.post("/logout")
def logout(request: Request, form: CheckedForm):
    return end_session(request, "/")


@router.get("/lang/{code}")
def choose_language(code: str, request: Request):
    response = redirect(safe_next(request.query_params.get("next")))
    if code in ("zh", "en"):
        set_lang(response, request, code)
    return response


# ---- my numbers and their products -------------------------------------------------------------------
def _line_page(request: Request, p, msisdn: str, status: int = 200, errors: dict | None = None):
    c = container(request)
    view = selfservice.line_overview(c, p, msisdn, lang_of(request))
    return render(request, "portal/line.html", status=status, view=view, line=view["line"], errors=errors or {},
                  nonce=nonce())


@router.get("/lines/{msisdn}")
def line_page(msisdn: str, request: Request, p: Subscriber):
    return _line_page(request, p, msisdn)


@router.post("/lines/{msisdn}/end")
def end_product(msisdn: str, request: Request, p: Subscriber, form: CheckedForm):
    """One click: the effect was shown beside the button; create and confirm together."""
    c = container(request)
    sub_id = str(form.get("subscription_id") or "")[:64]
    cmd = requests.NewRequest(kind=str(form.get("kind") or ""), msisdn=msisdn, subscription_id=sub_id or None,
                              acknowledged_warnings=acked_of(form), idempotency_key=form_key(form, "web"),
                              lang=lang_of(request))
    try:
        req = selfservice.end_in_one_step(c, p, cmd)
    except ServiceError as exc:
        if open_request(exc):
            return redirect(f"/requests/{open_request(exc)}")
        return _line_page(request, p, msisdn, status=exc.status, errors={sub_id: error_text(request, exc)})
    return redirect(f"/requests/{req.tracking_no}")


@router.post("/offers/{offer_id}")
def save_offer_decision(offer_id: str, request: Request, p: Subscriber, form: CheckedForm):
    """One click on a save offer: accepted or declined; the cancel button beside it never waited for this."""
    from canceldesk.service_layer import insights
    insights.decide_offer(container(request), p, offer_id, str(form.get("decision")) == "accept")
    msisdn = requests.parse_msisdn(str(form.get("msisdn") or ""))
    return redirect(f"/lines/{msisdn}")


@router.get("/lines/{msisdn}/withdraw/{subscription_id}")
def withdraw_page(msisdn: str, subscription_id: str, request: Request, p: Subscriber):
    """The withdrawal function (EU): the effect, then the pack's own confirmation button."""
    c = container(request)
    result = requests.precheck(c, p, "withdraw", msisdn, subscription_id[:64], lang_of(request))
    view = selfservice.line_overview(c, p, msisdn, lang_of(request))
    product = next((s for s in view["products"] if s["id"] == subscription_id), None)
    return render(request, "portal/withdraw.html", line=view["line"], product=product, result=result.as_dict(),
                  nonce=nonce())


# ---- the close-number wizard --------------------------------------------------------------------------
def _close_page(request: Request, p, msisdn: str, status: int = 200, errors: dict | None = None, acked=(), reason=""):
    c = container(request)
    result = requests.precheck(c, p, "close_line", msisdn, None, lang_of(request))
    return render(request, "portal/close.html", status=status, line=selfservice.line_summary(c, p, msisdn),
                  result=result.as_dict(),
                  errors=errors or {}, acked=set(acked), reason=reason, nonce=nonce(), reasons=labels.REASONS)


@router.get("/lines/{msisdn}/close")
def close_page(msisdn: str, request: Request, p: Subscriber):
    return _close_page(request, p, msisdn)


@router.post("/lines/{msisdn}/close")
def close_submit(msisdn: str, request: Request, p: Subscriber, form: CheckedForm):
    c = container(request)
    acked = acked_of(form)
    reason = str(form.get("reason") or "")[:40]
    cmd = requests.NewRequest(kind="close_line", msisdn=msisdn, reason=reason if reason in labels.REASONS else None,
                              acknowledged_warnings=acked, idempotency_key=form_key(form, "web"), lang=lang_of(request))
    try:
        req, _created = requests.create_request(c, p, cmd)
    except ServiceError as exc:
        if open_request(exc):
            return redirect(f"/requests/{open_request(exc)}")
        return _close_page(request, p, msisdn, status=exc.status, errors=submit_errors(request, exc), acked=acked,
                           reason=reason)
    return redirect(f"/requests/{req.tracking_no}")


# ---- a request -------------------------------------------------------------------------------------------
def _request_page(request: Request, p, tracking_no: str, status: int = 200, errors: dict | None = None, note: str = ""):
    c = container(request)
    detail = selfservice.request_detail(c, p, tracking_no)
    return render(request, "portal/request.html", status=status, d=detail, r=detail["request"],
                  complaints=complaints.for_request(c, p, tracking_no), errors=errors or {},
                  note=note or request.query_params.get("note", ""))


@router.get("/requests/{tracking_no}")
def request_page(tracking_no: str, request: Request, p: Subscriber):
    return _request_page(request, p, tracking_no)


@router.post("/requests/{tracking_no}/confirm")
def request_confirm(tracking_no: str, request: Request, p: Subscriber, form: CheckedForm):
    c = container(request)
    verification = {k: str(form.get(k) or "").strip()[:32] for k in ("id_last6", "service_password")}
    verification = {k: v for k, v in verification.items() if v} or None
    try:
        requests.confirm(c, p, tracking_no, verification, lang_of(request))
    except ServiceError as exc:
        field = "service_password" if verification and "service_password" in verification and \
            "id_last6" not in verification else "id_last6"
        return _request_page(request, p, tracking_no, status=exc.status, errors={field: error_text(request, exc)})
    return redirect(f"/requests/{tracking_no}")


@router.post("/requests/{tracking_no}/withdraw")
def request_withdraw(tracking_no: str, request: Request, p: Subscriber, form: CheckedForm):
    try:
        requests.withdraw(container(request), p, tracking_no)
    except ServiceError as exc:
        return _request_page(request, p, tracking_no, status=exc.status, errors={"withdraw": error_text(request, exc)})
    return redirect(f"/requests/{tracking_no}")


@router.post("/requests/{tracking_no}/complaints")
def request_complaint(tracking_no: str, request: Request, p: Subscriber, form: CheckedForm):
    try:
        filed = complaints.file(container(request), p, tracking_no, form.get("kind"), form.get("text"))
    except ServiceError as exc:
        if exc.status == 404:
            raise
        return _request_page(request, p, tracking_no, status=exc.status,
                             errors=field_errors(request, exc, "text"))
    return redirect(f"/requests/{tracking_no}?note={filed.reference}#complaints")


# ---- public verification ------------------------------------------------------------------------------------
@router.get("/verify")
def verify_form(request: Request):
    code = "".join(str(request.query_params.get("code") or "").split()).upper()[:40]  # "abcde fgh23" as typed
    if code:
        return redirect(f"/verify/{code}")
    return render(request, "verify.html", result=None, code="")


@router.get("/verify/{code}")
def verify_page(code: str, request: Request):
    result = receipts.verify(container(request), code[:40])
    return render(request, "verify.html", result=result, code=code[:40])
