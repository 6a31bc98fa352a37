"""The counter console (营业厅): staff login, find a walk-in customer, record the in-person ID
check, submit any request on the customer's behalf, print the receipt; the review, escalation
and complaint queues."""
from __future__ import annotations

import json
import time

from fastapi import APIRouter, Request

from canceldesk.domain.identifiers import mask_id
from canceldesk.service_layer import (auth, complaints, counter, customers, escalations, requests, selfservice,
                                      staffscope)
from canceldesk.service_layer.errors import NotFound, ServiceError

from . import labels
from canceldesk.service_layer.principal import may

from .pages import (HOME_OF_ROLE, CheckedForm, PageRoute, Staff, acked_of, client_of, container, cookie_flags,
                    error_text, field_errors, form_key, lang_of, nonce, open_request, redirect, render, safe_next,
                    set_session, submit_errors, tr)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

IDCHECK_COOKIE = "cd_idcheck"
IDCHECK_SECONDS = 15 * 60


# ---- staff login --------------------------------------------------------------------------------------
@router.get("/staff/login")
def staff_login_page(request: Request):
    return render(request, "staff/login.html", errors={}, username="",
                  next=safe_next(request.query_params.get("next"), ""))


@router.post("/staff/login")
def staff_login(request: Request, form: CheckedForm):
    c = container(request)
    username = str(form.get("username") or "")[:64]
    nxt = safe_next(form.get("next"), "")
    try:
        login = auth.staff_login(c, username, str(form.get("password") or "")[:200], client=client_of(request))
    except ServiceError as exc:
        return render(request, "staff/login.html", status=exc.status, errors={"password": error_text(request, exc)},
                      username=username, next=nxt)
    response = redirect(nxt or HOME_OF_ROLE.get(login["role"], "/"))
    set_session(response, request, login)
    return response


# ---- the in-person ID check, kept for a quarter of an hour in an encrypted cookie ----------------------
def _checked_document(request: Request, p, customer_id: str) -> dict | None:
    raw = request.cookies.get(IDCHECK_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(container(request).keyring.decrypt(raw))
    except Exception:  # noqa: BLE001 - tampered, old key or garbage: no check on record
        return None
    if data.get("cid") != customer_id or data.get("agent") != p.actor or data.get("exp", 0) < time.time():
        return None
    return {"type": data["type"], "number": data["number"]}


def _id_summary(doc: dict | None) -> dict | None:
    return {"type": doc["type"], "masked": mask_id(doc["number"])} if doc else None


# ---- search and the customer ----------------------------------------------------------------------------
@router.get("/counter")
def counter_home(request: Request, p: Staff):
    if not may(p, "counter"):  # a reviewer works the queues
        return redirect("/counter/queues")
    q = escalations.queues(container(request), p, limit=500)
    return render(request, "counter/home.html", errors={}, form={}, counts={k: len(v) for k, v in q.items()},
                  doc_types=labels.DOC_TYPES)


@router.post("/counter/search")
def counter_search(request: Request, p: Staff, form: CheckedForm):
    c = container(request)
    by = "doc" if form.get("by") == "doc" else "msisdn"
    try:
        if by == "msisdn":
            cid = counter.find_customer(c, p, msisdn=str(form.get("msisdn") or "")[:32])
        else:
            cid = counter.find_customer(c, p, doc_type=str(form.get("doc_type") or ""),
                                        doc_number=str(form.get("doc_number") or "")[:40])
    except ServiceError as exc:
        field = "msisdn" if by == "msisdn" else "doc_number"
        _ = tr(request)
        errors = {field: _("No customer found.")} if exc.status == 404 \
            else field_errors(request, exc, field)
        q = escalations.queues(c, p, limit=500)
        return render(request, "counter/home.html", status=200 if exc.status == 404 else exc.status, errors=errors,
                      form={"by": by, "msisdn": str(form.get("msisdn") or "")[:32], "doc_type": form.get("doc_type")},
                      counts={k: len(v) for k, v in q.items()}, doc_types=labels.DOC_TYPES)
    return redirect(f"/counter/customers/{cid}")


def _customer_page(request: Request, p, customer_id: str, status: int = 200, errors: dict | None = None,
                   form=None):
    """After a mismatch the form comes back with what was typed and where to go next (never the
    POST's own URL: going "back" there is a 405)."""
    c = container(request)
    view = counter.customer_view(c, p, customer_id)
    doc = _checked_document(request, p, view["id"])
    typed = {"doc_type": str(form.get("doc_type") or "")[:40], "doc_number": str(form.get("doc_number") or "")[:40],
             "next": safe_next(form.get("next"), f"/counter/customers/{customer_id}")} if form is not None else {}
    if typed and typed["next"].endswith("/idcheck"):
        typed["next"] = f"/counter/customers/{customer_id}"
    return render(request, "counter/customer.html", status=status, cu=view, idcheck=_id_summary(doc),
                  errors=errors or {}, doc_types=labels.DOC_TYPES, typed=typed)


@router.get("/counter/customers/{customer_id}")
def customer_page(customer_id: str, request: Request, p: Staff):
    page = _customer_page(request, p, customer_id)
    staffscope.looked_up_now(container(request), p, "customer_viewed", customer_id, True)
    return page


@router.post("/counter/customers/{customer_id}/idcheck")
def record_id_check(customer_id: str, request: Request, p: Staff, form: CheckedForm):
    c = container(request)
    doc_type, number = str(form.get("doc_type") or ""), str(form.get("doc_number") or "")[:40]
    try:
        ok = customers.check_identity(c, p, customer_id, doc_type, number)["match"]  # locks after repeated misses
    except ServiceError as exc:
        if exc.status == 404:
            raise
        return _customer_page(request, p, customer_id, status=exc.status, errors=field_errors(request, exc, "doc_number"),
                              form=form)
    if not ok:
        return _customer_page(request, p, customer_id, status=422,
                              errors={"doc_number": tr(request)(labels.ERRORS["ID_MISMATCH"])}, form=form)
    target = safe_next(form.get("next"), f"/counter/customers/{customer_id}")
    response = redirect(target if not target.endswith("/idcheck") else f"/counter/customers/{customer_id}")
    payload = json.dumps({"cid": customer_id, "type": doc_type, "number": number, "agent": p.actor,
                          "exp": time.time() + IDCHECK_SECONDS})
    response.set_cookie(IDCHECK_COOKIE, c.keyring.encrypt(payload), max_age=IDCHECK_SECONDS,
                        **{**cookie_flags(request), "samesite": "strict", "path": "/counter"})
    return response


@router.post("/counter/customers/{customer_id}/idcheck/clear")
def clear_id_check(customer_id: str, request: Request, p: Staff, form: CheckedForm):
    response = redirect(f"/counter/customers/{customer_id}")
    response.delete_cookie(IDCHECK_COOKIE, path="/counter")
    return response


def _owned_line(request: Request, p, customer_id: str, msisdn: str) -> dict:
    c = container(request)
    view = counter.customer_view(c, p, customer_id)
    if not counter.holds_line(c, p, view["id"], msisdn):
        raise NotFound("no such line for this customer")
    return view


@router.get("/counter/customers/{customer_id}/lines/{msisdn}")
def customer_line(customer_id: str, msisdn: str, request: Request, p: Staff):
    c = container(request)
    cu = _owned_line(request, p, customer_id, msisdn)
    if not cu["verified_in_person"]:  # an agent sees a line's facts with the person in front of it
        return redirect(f"/counter/customers/{customer_id}")
    doc = _checked_document(request, p, customer_id)
    view = selfservice.line_overview(c, p, msisdn, lang_of(request), in_person_document=doc)
    return render(request, "counter/line.html", cu=cu, view=view, line=view["line"], idcheck=_id_summary(doc),
                  history=selfservice.line_history(c, p, msisdn))


# ---- submitting on the customer's behalf ----------------------------------------------------------------
def _new_page(request: Request, p, customer_id: str, msisdn: str, kind: str, subscription_id: str | None,
              status: int = 200, errors: dict | None = None, acked=(), reason: str = ""):
    c = container(request)
    cu = _owned_line(request, p, customer_id, msisdn)
    doc = _checked_document(request, p, customer_id)
    result = requests.precheck(c, p, kind, msisdn, subscription_id, lang_of(request), in_person_document=doc) \
        if doc else None
    return render(request, "counter/new.html", status=status, cu=cu, msisdn=msisdn, kind=kind,
                  subscription_id=subscription_id, result=result.as_dict() if result else None,
                  idcheck=_id_summary(doc), errors=errors or {}, acked=set(acked), reason=reason, nonce=nonce(),
                  reasons=labels.REASONS, doc_types=labels.DOC_TYPES)


@router.get("/counter/customers/{customer_id}/lines/{msisdn}/new")
def new_request_page(customer_id: str, msisdn: str, request: Request, p: Staff):
    kind = requests.parse_kind(request.query_params.get("kind") or "close_line")
    sub = (request.query_params.get("subscription_id") or "")[:64] or None
    return _new_page(request, p, customer_id, msisdn, kind, sub)


@router.post("/counter/customers/{customer_id}/lines/{msisdn}/new")
def new_request_submit(customer_id: str, msisdn: str, request: Request, p: Staff, form: CheckedForm):
    c = container(request)
    kind = requests.parse_kind(form.get("kind"))
    sub = str(form.get("subscription_id") or "")[:64] or None
    acked = acked_of(form)
    reason = str(form.get("reason") or "")[:40]
    _owned_line(request, p, customer_id, msisdn)
    doc = _checked_document(request, p, customer_id)
    if doc is None:
        return _new_page(request, p, customer_id, msisdn, kind, sub, status=422, acked=acked, reason=reason)
    cmd = requests.NewRequest(kind=kind, msisdn=msisdn, subscription_id=sub, acknowledged_warnings=acked,
                              reason=reason if reason in labels.REASONS else None, in_person_document=doc,
                              idempotency_key=form_key(form, "counter"), lang=lang_of(request))
    try:
        req = selfservice.end_in_one_step(c, p, cmd)
    except ServiceError as exc:
        if open_request(exc):
            return redirect(f"/counter/requests/{open_request(exc)}")
        return _new_page(request, p, customer_id, msisdn, kind, sub, status=exc.status,
                         errors=submit_errors(request, exc), acked=acked, reason=reason)
    return redirect(f"/counter/requests/{req.tracking_no}")


# ---- a request, and the queues -----------------------------------------------------------------------------
def _walk_in_customer(c, p, req) -> dict | None:
    """The customer of a request taken at the counter, for the walk-in breadcrumb (None from the queues)."""
    if req.channel != "counter" or not may(p, "counter") or not req.customer_id:
        return None
    try:
        return counter.customer_view(c, p, req.customer_id)
    except ServiceError:
        return None


def _staff_request_page(request: Request, p, tracking_no: str, status: int = 200, errors: dict | None = None):
    c = container(request)
    detail = selfservice.request_detail(c, p, tracking_no)
    return render(request, "counter/request.html", status=status, d=detail, r=detail["request"],
                  cu=_walk_in_customer(c, p, detail["request"]),
                  complaints=complaints.for_request(c, p, tracking_no), errors=errors or {})


@router.get("/counter/requests/{tracking_no}")
def staff_request(tracking_no: str, request: Request, p: Staff):
    return _staff_request_page(request, p, tracking_no)


@router.post("/counter/requests/{tracking_no}/review")
def staff_review(tracking_no: str, request: Request, p: Staff, form: CheckedForm):
    approve = form.get("decision") == "approve"
    try:
        requests.review(container(request), p, tracking_no, approve, str(form.get("reason") or "").strip()[:500] or None)
    except ServiceError as exc:
        if exc.status == 404:
            raise
        return _staff_request_page(request, p, tracking_no, status=exc.status, errors={"reason": error_text(request, exc)})
    return redirect(safe_next(form.get("next"), f"/counter/requests/{tracking_no}"))


@router.post("/counter/requests/{tracking_no}/retry")
def staff_retry(tracking_no: str, request: Request, p: Staff, form: CheckedForm):
    escalations.retry(container(request), p, tracking_no)
    return redirect(f"/counter/requests/{tracking_no}")


@router.post("/counter/requests/{tracking_no}/close")
def staff_close_failed(tracking_no: str, request: Request, p: Staff, form: CheckedForm):
    try:
        escalations.close_failed(container(request), p, tracking_no, str(form.get("reason") or "")[:500])
    except ServiceError as exc:
        if exc.status == 404:
            raise
        return _staff_request_page(request, p, tracking_no, status=exc.status,
                                   errors={"close_reason": error_text(request, exc)})
    return redirect(f"/counter/requests/{tracking_no}")


@router.get("/counter/queues")
def queues(request: Request, p: Staff):
    c = container(request)
    return render(request, "counter/queues.html", q=escalations.queues(c, p), open_complaints=complaints.open_queue(c, p),
                  errors={})


@router.post("/counter/complaints/{reference}/resolve")
def resolve_complaint(reference: str, request: Request, p: Staff, form: CheckedForm):
    c = container(request)
    try:
        complaints.resolve(c, p, reference, form.get("resolution"))
    except ServiceError as exc:
        if exc.status == 404:
            raise
        return render(request, "counter/queues.html", status=exc.status, q=escalations.queues(c, p),
                      open_complaints=complaints.open_queue(c, p), errors={reference: error_text(request, exc)})
    return redirect("/counter/queues#complaints")
