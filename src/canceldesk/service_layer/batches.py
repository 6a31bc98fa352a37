"""Enterprise batches: an enterprise admin ends many of the company's lines in one order.

    create (lines chosen)  →  prechecking → prechecked  →  submit  →  submitting → submitted
    (the phase moves only through domain/batch.py's table, BATCHES: `_move`)

Every line is pre-checked with the same use case as a single request; on submit every line gets
its own request (`batch_id` set, idempotency key `batch:<id>:<msisdn>`), created and confirmed by
the same use cases — a line that cannot close becomes a rejected request with its reason codes.
The batch outcome is derived from those requests, never stored: `completed` (all completed),
`failed` (none), `partial` (some), `running` while any is still on its way.

The long parts (`run_prechecks`, `run_submit`) are resumable: they only touch lines not yet done,
so a batch whose runner stopped (see `stalled`) is resumed by calling them again.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from canceldesk.domain import localtime
from canceldesk.domain.batch import BATCHES, BEFORE_SUBMIT, MOVING, RUNNING_PHASES, BatchPhase
from canceldesk.domain.batch import derive_outcome as derive_outcome  # re-exported: the rule lives in the domain
from canceldesk.domain.lifecycle import Status

from . import fleetguard, intake, requests, selfservice
from .errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from .notifications import notify
from .principal import Principal, may

log = logging.getLogger("canceldesk.batches")

MAX_LINES = 1000
CHUNK = 10
SUBMIT_CHUNK = 500  # items created and confirmed per transaction (service_layer/intake.py)
STALLED_AFTER = timedelta(seconds=60)
KINDS = ("close_line",)
FLEET_FILTERS = ("", "active", "not_active", "arrears", "port_out", "contract")
RESULT_FILTERS = ("", "eligible", "blocked", "completed", "not_completed")


def _enterprise_of(principal: Principal) -> str:
    """Only an enterprise admin has a fleet; anyone else is told there is nothing here."""
    if not may(principal, "enterprise") or not principal.enterprise_id:
        raise NotFound("not found")
    return principal.enterprise_id


# ---- the fleet ----------------------------------------------------------------------------------
def _fleet_filter(q: str, flag: str) -> tuple[str, str]:
    """The digits to look for in a number (at most 11) and the checked filter name."""
    if flag not in FLEET_FILTERS:
        raise InvalidInput(f"filter must be one of {', '.join(f for f in FLEET_FILTERS if f)}", {"field": "filter"})
    return "".join(ch for ch in (q or "") if ch.isdigit())[:11], flag


def fleet(c, principal: Principal, *, q: str = "", flag: str = "", page: int = 1, size: int = 50) -> dict:
    """One page of the company's lines (server-side paging: 500 lines never render at once)."""
    ent = _enterprise_of(principal)
    size = max(1, min(int(size), 200))
    digits, flag = _fleet_filter(q, flag)
    with c.uow() as uow:
        total = uow.batches.fleet_count(ent, digits, flag)
        pages = max(1, -(-total // size))
        page = max(1, min(int(page), pages))
        rows = uow.batches.fleet_page(ent, digits, flag, limit=size, offset=(page - 1) * size)
        open_by_line = uow.batches.open_requests_by_line([r["msisdn"] for r in rows])
    return {"total": total, "page": page, "pages": pages, "size": size,
            "lines": [{**r, "open_request": open_by_line.get(r["msisdn"])} for r in rows]}


def fleet_numbers(c, principal: Principal, *, q: str = "", flag: str = "") -> list[str]:
    """Every number matching the filter (for "select all that match")."""
    ent = _enterprise_of(principal)
    digits, flag = _fleet_filter(q, flag)
    with c.uow() as uow:
        return uow.batches.fleet_numbers(ent, digits, flag, limit=MAX_LINES)


# ---- creating and running a batch -----------------------------------------------------------------
def create(c, principal: Principal, msisdns: object, kind: str = "close_line", reason: str | None = None,
           limit: int = MAX_LINES) -> dict:
    ent = _enterprise_of(principal)
    if kind not in KINDS:
        raise InvalidInput(f"a batch can do: {', '.join(KINDS)}", {"field": "kind"})
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise InvalidInput("reason is at most 500 characters", {"field": "reason"})
    if not isinstance(msisdns, (list, tuple)) or not msisdns:
        raise InvalidInput("choose at least one line", {"field": "msisdns"}, code="NO_LINES")
    if len(msisdns) > limit:
        raise InvalidInput(f"at most {limit} lines in one batch", {"field": "msisdns"}, code="TOO_MANY_LINES")
    numbers: list[str] = []
    bad = []
    for i, raw in enumerate(msisdns):
        try:
            n = requests.parse_msisdn(raw)
        except InvalidInput:
            bad.append({"field": f"msisdns[{i}]", "message": "not a mobile number"})
            continue
        if n not in numbers:
            numbers.append(n)
    if bad:
        raise InvalidInput(f"{len(bad)} number(s) are not mobile numbers", {"errors": bad[:50]})
    now = c.now()
    batch_id = str(uuid.uuid4())
    with c.uow() as uow:
        mine = uow.batches.owned_lines(ent, numbers)
        unknown = [n for n in numbers if n not in mine]
        if unknown:  # the same answer for a line of another company as for one that does not exist
            raise NotFound(f"no such line: {', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''}",
                           {"msisdns": unknown[:50]})
        uow.batches.add(dict(id=batch_id, enterprise_id=ent, kind=kind, created_by=principal.actor, created_at=now,
                             updated_at=now, phase=BatchPhase.PRECHECKING, size=len(numbers), reason=reason,
                             acknowledged_warnings=[]), numbers)
        uow.commit()
    return status(c, principal, batch_id)


def company_name(c, principal: Principal) -> dict:
    """The admin's company as registered (shown at the top of the console), and the language its name
    is written in, so a page in another language marks it (`lang`)."""
    with c.uow() as uow:
        company = uow.repo.customer(_enterprise_of(principal))
    name = company.name if company is not None else ""
    return {"name": name, "lang": "zh-CN" if any(ord(ch) >= 0x2E80 for ch in name) else "en"}


def _batch(uow, principal: Principal, batch_id: str) -> dict:
    ent = _enterprise_of(principal)
    row = uow.batches.get(str(batch_id)[:36])
    if row is None or row["enterprise_id"] != ent:
        raise NotFound("no such batch")
    return row


def _touch(uow, batch_id: str, now, **values) -> None:
    uow.batches.touch(batch_id, now, **values)


def _move(uow, batch_id: str, current: str, to: BatchPhase, now, **values) -> bool:
    """The batch's named transition `current → to` (checked against BATCHES), as a compare-and-set:
    False when the batch was no longer in `current` (another runner moved it first)."""
    BATCHES.check(current, to)
    return uow.batches.move(batch_id, current, to, now, **values)


def run_prechecks(c, principal: Principal, batch_id: str, lang: str = "zh") -> None:
    """Pre-check every line not yet checked, CHUNK lines per transaction (the progress bar moves)."""
    try:
        with c.uow() as uow:
            batch = _batch(uow, principal, batch_id)
        while True:
            with c.uow() as uow:
                todo = uow.batches.items_to_precheck(batch_id, limit=CHUNK)
            if not todo:
                break
            results = []
            for item_id, msisdn in todo:
                try:
                    r = requests.precheck(c, principal, batch["kind"], msisdn, lang=lang)
                    results.append((item_id, r.eligible, [b.as_dict() for b in r.blockers],
                                    [w.as_dict() for w in r.warnings], r.impact.get("refund", {}).get("amount")))
                except ServiceError as exc:
                    results.append((item_id, False, [{"code": exc.code, "message": exc.message, "resolution": ""}], [], None))
            with c.uow() as uow:
                for item_id, eligible, blockers, warnings, refund in results:
                    uow.batches.set_item(item_id, eligible=eligible, blockers=blockers, warnings=warnings, refund=refund)
                _touch(uow, batch_id, c.now())
                uow.commit()
        with c.uow() as uow:
            _move(uow, batch_id, BatchPhase.PRECHECKING, BatchPhase.PRECHECKED, c.now())
            uow.commit()
    except Exception:  # noqa: BLE001 - a background runner: log it; the batch shows as stalled
        log.exception("batch %s: pre-checks stopped; resume it from the console", batch_id)
        raise


def submit(c, principal: Principal, batch_id: str, acknowledged_warnings: object = (), otp: object = None,
           confirm_count: object = None) -> dict:
    """Accept the pre-checked batch for closing; the caller then runs `run_submit` (in the background).
    More than a handful of lines needs a fresh code to the admin and the count typed back (fleetguard)."""
    if not isinstance(acknowledged_warnings, (list, tuple)) or len(acknowledged_warnings) > 20 or \
            not all(isinstance(w, str) for w in acknowledged_warnings):
        raise InvalidInput("acknowledged_warnings is a list of warning codes", {"field": "acknowledged_warnings"})
    acked = sorted(set(acknowledged_warnings))
    now = c.now()
    with c.uow() as uow:
        batch = _batch(uow, principal, batch_id)
        resumable = batch["phase"] == BatchPhase.SUBMITTING and now - batch["updated_at"] > STALLED_AFTER
        if batch["phase"] != BatchPhase.PRECHECKED and not resumable:
            raise Conflict(f"this batch is '{batch['phase']}'", {"phase": batch["phase"]}, code="INVALID_STATE")
        needed = set()
        eligible = 0
        for warnings in uow.batches.eligible_warnings(batch_id):
            needed.update(w["code"] for w in warnings)
            eligible += 1
        missing = sorted(needed - set(acked))
        if missing:
            raise InvalidInput("acknowledge these warnings first (acknowledged_warnings)", {"missing": missing},
                               code="WARNINGS_NOT_ACKNOWLEDGED")
        if not resumable:
            fleetguard.check(c, uow, principal, batch_id, eligible, otp, confirm_count)
        if not _move(uow, batch_id, batch["phase"], BatchPhase.SUBMITTING, now, acknowledged_warnings=acked):
            raise Conflict("this batch was submitted at the same moment by another click", code="INVALID_STATE")
        uow.commit()
    return status(c, principal, batch_id)


def _command(batch: dict, batch_id: str, lang: str, msisdn: str, item_kind: str | None, subscription_id: str | None,
             item_ref: str | None) -> requests.NewRequest:
    return requests.NewRequest(kind=item_kind or batch["kind"], msisdn=msisdn, subscription_id=subscription_id,
                               reason=batch["reason"], acknowledged_warnings=tuple(batch["acknowledged_warnings"] or ()),
                               idempotency_key=f"batch:{batch_id}:{item_ref or msisdn}", batch_id=batch_id, lang=lang)


def run_submit(c, principal: Principal, batch_id: str, lang: str = "zh",
               positions: tuple[int, int] | None = None) -> None:
    """Create and confirm one request per line not yet done; blocked lines become rejected requests.

    An item may name its own kind and subscription (a TMF622 order mixes them); `positions`
    (first, last) limits the run to a slice, so several workers can share one large order.
    """
    try:
        with c.uow() as uow:
            batch = _batch(uow, principal, batch_id)
        while True:
            with c.uow() as uow:
                todo = uow.batches.items_to_submit(batch_id, positions, limit=SUBMIT_CHUNK)
            if not todo:
                break
            cmds = [(row[0], _command(batch, batch_id, lang, *row[1:])) for row in todo]
            executing = intake.submit_many(c, principal, cmds)
            if executing is not None:  # set-based: the whole chunk in one transaction
                with c.uow() as uow:
                    _touch(uow, batch_id, c.now())
                    uow.commit()
                c.enqueue_executions(executing)
                keep_statistics(c)  # a large batch is a bulk load: the planner's statistics keep up
                continue
            for item_id, msisdn, item_kind, subscription_id, item_ref in todo:
                values: dict = {}
                cmd = requests.NewRequest(kind=item_kind or batch["kind"], msisdn=msisdn, subscription_id=subscription_id,
                                          reason=batch["reason"],
                                          acknowledged_warnings=tuple(batch["acknowledged_warnings"] or ()),
                                          idempotency_key=f"batch:{batch_id}:{item_ref or msisdn}", batch_id=batch_id,
                                          lang=lang)
                try:
                    req = selfservice.end_in_one_step(c, principal, cmd)
                    values = {"request_id": req.id, "tracking_no": req.tracking_no}
                except ServiceError as exc:
                    values = {"error_code": exc.code[:40], "error_message": exc.message[:500]}
                with c.uow() as uow:
                    uow.batches.set_item(item_id, **values)
                    _touch(uow, batch_id, c.now())
                    uow.commit()
        if positions is None:
            with c.uow() as uow:
                _move(uow, batch_id, BatchPhase.SUBMITTING, BatchPhase.SUBMITTED, c.now())
                _notify_admin(c, uow, principal, batch_id, batch["kind"], lang)
                uow.commit()
    except Exception:  # noqa: BLE001 - a background runner: log it; the batch shows as stalled
        log.exception("batch %s: submission stopped; resume it from the console", batch_id)
        raise


def keep_statistics(c) -> None:
    """Refresh the planner's statistics of the fleet tables where a bulk load made them stale
    (OrderStore.keep_statistics). An optimisation only: a failure (a statement timeout on a large
    table, a lost connection) is logged by its class and the batch or order goes on."""
    try:
        with c.uow() as uow:
            uow.orders.keep_statistics()
            uow.commit()
    except Exception as exc:  # noqa: BLE001 - never stops an order's intake or its watcher
        log.warning("could not refresh the planner's statistics (%s); going on", type(exc).__name__)


def _notify_admin(c, uow, principal: Principal, batch_id: str, kind: str, lang: str) -> None:
    """One message for the whole batch, to the admin who submitted it (not one per card)."""
    if not principal.login_msisdn:
        return
    rows = uow.batches.request_statuses(batch_id)
    accepted = sum(1 for s in rows if s is not None and s not in (Status.REJECTED, Status.WITHDRAWN))
    notify(uow.repo, to=principal.login_msisdn, event="batch_accepted", ref=batch_id[:8].upper(), at=c.now(),
           dedup=f"batch:{batch_id}:accepted", lang=lang, kind=kind, accepted=accepted, refused=len(rows) - accepted)


# ---- reading ---------------------------------------------------------------------------------------
def status(c, principal: Principal, batch_id: str) -> dict:
    now = c.now()
    with c.uow() as uow:
        b = _batch(uow, principal, batch_id)
        rows = uow.batches.progress_rows(b["id"])
    checked = [r for r in rows if r["eligible"] is not None]
    submitted = [r for r in rows if r["request_id"] is not None or r["error_code"] is not None]
    statuses = [r["status"] for r in submitted]
    counts: dict[str, int] = {}
    for s in statuses:
        key = s or "error"
        counts[key] = counts.get(key, 0) + 1
    warnings: dict[str, dict] = {}
    for r in checked:
        if r["eligible"]:
            for w in r["warnings"] or []:
                warnings.setdefault(w["code"], {**{k: v for k, v in w.items() if k != "details"}, "lines": 0})["lines"] += 1
    total = b["size"]
    settled = sum(1 for s in statuses if s not in MOVING)
    done = len(checked) if b["phase"] in BEFORE_SUBMIT else settled
    outcome = derive_outcome(b["phase"], total, statuses)
    running = b["phase"] in RUNNING_PHASES or outcome == "running"
    return {"id": b["id"], "kind": b["kind"], "phase": b["phase"], "outcome": outcome, "size": total,
            "created_at": localtime.iso(b["created_at"], c.pack.timezone),
            "updated_at": localtime.iso(b["updated_at"], c.pack.timezone),
            "created_by": b["created_by"], "reason": b["reason"],
            "prechecked": len(checked), "eligible": sum(1 for r in checked if r["eligible"]),
            "blocked": sum(1 for r in checked if not r["eligible"]), "warnings": list(warnings.values()),
            "acknowledged_warnings": b["acknowledged_warnings"] or [], "submitted": len(submitted),
            "statuses": counts, "completed": counts.get(Status.COMPLETED, 0),
            "not_completed": settled - counts.get(Status.COMPLETED, 0),
            "progress": {"done": done, "total": total, "percent": int(100 * done / total) if total else 100},
            "running": running,
            "refund_total": sum(r["refund"] or 0 for r in submitted if r["status"] == Status.COMPLETED),
            "stalled": b["phase"] in RUNNING_PHASES and now - b["updated_at"] > STALLED_AFTER}


def _result_row(r, tz: str) -> dict:
    if r["error_code"]:
        result = "error"
    elif r["status"] is None:
        result = "not_submitted"
    elif r["status"] in MOVING:
        result = "running"
    else:
        result = r["status"]
    codes = list(r["reject_codes"] or []) or ([r["error_code"]] if r["error_code"] else [])
    if not codes and r["eligible"] is False:
        codes = [b["code"] for b in r["blockers"] or []]
    return {"position": r["position"], "msisdn": r["msisdn"], "eligible": r["eligible"],
            "blockers": r["blockers"] or [], "warnings": r["warnings"] or [],
            # a line that did not close refunds nothing: its pre-checked estimate is not shown as a refund
            "refund": r["refund"] if result in ("completed", "running", "not_submitted") else None,
            "tracking_no": r["tracking_no"], "status": r["status"], "result": result, "reason_codes": codes,
            "error": r["error_message"], "completed_at": localtime.iso(r["completed_at"], tz)}


def _check_show(show: str) -> str:
    if show not in RESULT_FILTERS:
        raise InvalidInput(f"show must be one of {', '.join(f for f in RESULT_FILTERS if f)}", {"field": "show"})
    return show


def results(c, principal: Principal, batch_id: str, *, show: str = "", page: int = 1, size: int = 50) -> dict:
    size = max(1, min(int(size), 500))
    with c.uow() as uow:
        b = _batch(uow, principal, batch_id)
        show = _check_show(show)
        total = uow.batches.results_count(b["id"], show)
        pages = max(1, -(-total // size))
        page = max(1, min(int(page), pages))
        rows = uow.batches.results(b["id"], show, limit=size, offset=(page - 1) * size)
    return {"total": total, "page": page, "pages": pages, "size": size, "rows": [_result_row(r, c.pack.timezone) for r in rows]}


def recent(c, principal: Principal, limit: int = 10) -> list[dict]:
    ent = _enterprise_of(principal)
    with c.uow() as uow:
        ids = uow.batches.recent_ids(ent, limit)
    return [status(c, principal, i) for i in ids]


def run_all(c, principal: Principal, batch_id: str, acknowledged_warnings=(), lang: str = "zh") -> None:
    """Pre-check, then submit at once (an integrator's one call); a batch whose lines show warnings
    not acknowledged stops at `prechecked`, for a person to look at."""
    run_prechecks(c, principal, batch_id, lang)
    try:
        submit(c, principal, batch_id, list(acknowledged_warnings))
    except (InvalidInput, Forbidden) as exc:  # warnings to acknowledge, or a fleet needing its second factor
        log.info("batch %s stays pre-checked: %s", batch_id, exc.message)
        return
    run_submit(c, principal, batch_id, lang)
