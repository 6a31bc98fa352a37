"""The enterprise console: the company's lines (paged, filtered), pick many, pre-check them all,
close the eligible ones in one batch with a progress bar, download the per-line results."""
from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request

from fastapi.responses import Response

from canceldesk.service_layer import batches, fleet_upload, partner_keys
from canceldesk.service_layer.principal import may
from canceldesk.service_layer.errors import ServiceError

from . import labels
from .i18n import N_
from .pages import (CheckedForm, EnterpriseAdmin, PageRoute, container, current_principal, error_text, lang_of,
                    redirect, render, safe_next, tr)
from .portal import _demo_logins

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 25


def _int(value, default: int = 1) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default


@router.get("/enterprise/login")
def enterprise_login(request: Request):
    p = current_principal(request)
    nxt = safe_next(request.query_params.get("next"), "")
    if p is not None and may(p, "enterprise"):
        return redirect(nxt or "/enterprise")
    return render(request, "enterprise/login.html", area="enterprise", errors={}, msisdn="", next=nxt,
                  demo_logins=_demo_logins(request))


UPLOAD_MESSAGES = {"NOT_A_NUMBER": "not a mobile number", "NOT_OURS": "not a line of this company",
                   "DUPLICATE": "listed twice"}


def _fleet_page(request: Request, p, status: int = 200, errors: dict | None = None, upload_errors=None):
    c = container(request)
    qp = request.query_params
    q, flag = str(qp.get("q") or "")[:20], str(qp.get("filter") or "")
    if flag not in labels.FLEET_FILTERS:
        flag = ""
    page = batches.fleet(c, p, q=q, flag=flag, page=_int(qp.get("page")), size=PAGE_SIZE)
    return render(request, "enterprise/fleet.html", status=status, fleet=page, q=q, flag=flag, filters=labels.FLEET_FILTERS,
                  recent=batches.recent(c, p, limit=5), errors=errors or {}, company=batches.company_name(c, p),
                  upload_errors=upload_errors or [], upload_messages=UPLOAD_MESSAGES)


@router.get("/enterprise")
def fleet(request: Request, p: EnterpriseAdmin):
    return _fleet_page(request, p)


@router.post("/enterprise/batches")
def create_batch(request: Request, p: EnterpriseAdmin, form: CheckedForm, background: BackgroundTasks):
    c = container(request)
    if form.get("all_matching"):
        flag = str(form.get("filter") or "")
        numbers = batches.fleet_numbers(c, p, q=str(form.get("q") or "")[:20],
                                        flag=flag if flag in labels.FLEET_FILTERS else "")
    else:
        chosen = [str(m) for m in form.getlist("msisdn")]
        chosen += [m for m in str(form.get("selected") or "").split(",") if m.strip()]
        numbers = list(dict.fromkeys(m.strip()[:32] for m in chosen if m.strip()))
    try:
        b = batches.create(c, p, numbers, reason=str(form.get("reason") or "")[:200] or None)
    except ServiceError as exc:
        if exc.status == 404:
            raise
        return _fleet_page(request, p, status=exc.status, errors={"selection": error_text(request, exc)})
    background.add_task(batches.run_prechecks, c, p, b["id"], lang_of(request))
    return redirect(f"/enterprise/batches/{b['id']}")


def _batch_page(request: Request, p, batch_id: str, status: int = 200, errors: dict | None = None):
    c = container(request)
    qp = request.query_params
    show = str(qp.get("show") or "")
    if show not in labels.RESULT_FILTERS:
        show = ""
    st = batches.status(c, p, batch_id)
    res = batches.results(c, p, batch_id, show=show, page=_int(qp.get("page")), size=PAGE_SIZE)
    return render(request, "enterprise/batch.html", status=status, b=st, res=res, show=show,
                  company=batches.company_name(c, p),
                  filters=labels.RESULT_FILTERS, errors=errors or {}, step_up_over=c.settings.fleet_step_up_over)


@router.get("/enterprise/batches/{batch_id}")
def batch_page(batch_id: str, request: Request, p: EnterpriseAdmin):
    return _batch_page(request, p, batch_id)


@router.post("/enterprise/batches/{batch_id}/submit")
def submit_batch(batch_id: str, request: Request, p: EnterpriseAdmin, form: CheckedForm, background: BackgroundTasks):
    c = container(request)
    try:
        count = str(form.get("confirm_count") or "").strip()[:6]
        batches.submit(c, p, batch_id, [str(w)[:40] for w in form.getlist("ack")[:20]],
                       otp=str(form.get("otp") or "")[:12] or None, confirm_count=int(count) if count.isdigit() else count or None)
    except ServiceError as exc:
        if exc.status == 404:
            raise
        return _batch_page(request, p, batch_id, status=exc.status, errors={"ack": error_text(request, exc)})
    background.add_task(batches.run_submit, c, p, batch_id, lang_of(request))
    return redirect(f"/enterprise/batches/{batch_id}")


@router.post("/enterprise/batches/{batch_id}/resume")
def resume_batch(batch_id: str, request: Request, p: EnterpriseAdmin, form: CheckedForm, background: BackgroundTasks):
    """A batch whose runner stopped (a restart): carry on with the lines not done yet."""
    c = container(request)
    st = batches.status(c, p, batch_id)
    if st["stalled"] and st["phase"] == "prechecking":
        background.add_task(batches.run_prechecks, c, p, batch_id, lang_of(request))
    elif st["stalled"] and st["phase"] == "submitting":
        batches.submit(c, p, batch_id, st["acknowledged_warnings"])
        background.add_task(batches.run_submit, c, p, batch_id, lang_of(request))
    return redirect(f"/enterprise/batches/{batch_id}")


@router.post("/enterprise/uploads")
async def upload_numbers(request: Request, p: EnterpriseAdmin, form: CheckedForm, background: BackgroundTasks):
    """A CSV of numbers: every row checked, errors listed by row, a batch only from a clean file."""
    c = container(request)
    file = form.get("file")
    data = await file.read() if hasattr(file, "read") else b""
    try:
        b = fleet_upload.upload(c, p, data, reason=str(form.get("reason") or "")[:200] or None)
    except ServiceError as exc:
        rows = exc.details.get("errors", []) if isinstance(exc.details, dict) else []
        return _fleet_page(request, p, status=exc.status, errors={"upload": error_text(request, exc)},
                           upload_errors=rows)
    background.add_task(batches.run_prechecks, c, p, b["id"], lang_of(request))
    return redirect(f"/enterprise/batches/{b['id']}")


@router.get("/enterprise/batches/{batch_id}/results-zh.csv")
def results_zh(batch_id: str, request: Request, p: EnterpriseAdmin):
    text = fleet_upload.results_csv_zh(container(request), p, batch_id)
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="batch-{batch_id[:8]}-results-zh.csv"'})


# ---- partner API keys (TMF622): list, create (shown once), revoke; own enterprise only -------------
KEY_NAME_ERROR = N_("Name the key (1 to 100 characters), e.g. the system that will use it.")


def _keys_page(request: Request, p, status: int = 200, errors: dict | None = None, created: dict | None = None,
               revoked: dict | None = None):
    c = container(request)
    return render(request, "enterprise/keys.html", status=status, keys=partner_keys.list_keys(c, p),
                  company=batches.company_name(c, p), errors=errors or {}, created=created, revoked=revoked)


@router.get("/enterprise/keys")
def keys_page(request: Request, p: EnterpriseAdmin):
    return _keys_page(request, p)


@router.post("/enterprise/keys")
def create_key(request: Request, p: EnterpriseAdmin, form: CheckedForm):
    """The answer is the only place the key is ever shown (no redirect: a reload cannot show it again)."""
    try:
        created = partner_keys.create(container(request), p, str(form.get("name") or "")[:200])
    except ServiceError as exc:
        if exc.status in (403, 404):
            raise
        return _keys_page(request, p, status=exc.status, errors={"name": tr(request)(KEY_NAME_ERROR)})
    return _keys_page(request, p, status=201, created=created)


@router.post("/enterprise/keys/{key_id}/revoke")
def revoke_key(key_id: str, request: Request, p: EnterpriseAdmin, form: CheckedForm):
    revoked = partner_keys.revoke(container(request), p, key_id[:40])
    return _keys_page(request, p, revoked=revoked)
